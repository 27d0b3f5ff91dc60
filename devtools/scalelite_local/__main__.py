from scalelite_local.main import main

raise SystemExit(main())
