"""`bbbsim`: run simulated BBB servers until Ctrl-C (prints `<url> <secret>` per server)."""

from __future__ import annotations

import argparse
import signal
import threading

from bbbsim.server import BBBSimulator, stop_simulators


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bbbsim", description="Simulated BigBlueButton servers on 127.0.0.1")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--secret", default=None, help="shared secret (default: a random one per server)")
    parser.add_argument("--port-base", type=int, default=0, help="first port (0 = ephemeral ports)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--bbb-version", default="3.0.19")
    args = parser.parse_args(argv)
    import secrets

    sims = []
    for i in range(args.count):
        port = args.port_base + i if args.port_base else 0
        sim = BBBSimulator(
            args.secret or secrets.token_hex(16), port=port, latency=args.latency, bbb_version=args.bbb_version
        ).start()
        sims.append(sim)
        print(f"{sim.url} {sim.secret}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    stop_simulators(sims)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
