from bbbsim.main import main

raise SystemExit(main())
