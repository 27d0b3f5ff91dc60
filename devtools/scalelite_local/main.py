"""`scalelite-local` (`make run`): the local stack in the foreground; Ctrl-C or SIGTERM stops all of it."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import warnings

from scalelite_local.stack import Config, LocalStack


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    config = Config.from_env()
    stack = LocalStack(config)
    print("scalelite-local: starting (moto, gateway, Lambda API, simulated BBB servers)…", flush=True)
    try:
        stack.start()
    except OSError as exc:
        print(
            f"scalelite-local: could not start: {exc} (is a port in use? set SCALELITE_PORT, "
            "SCALELITE_LAMBDA_PORT or SCALELITE_AWS_PORT)",
            file=sys.stderr,
        )
        return 1
    lines = [
        "",
        "Scalelite Serverless local stack is ready.",
        f"  BBB API URL:   {stack.api_url}",
        f"  BBB secret:    {stack.secret}",
        f"  Lambda API:    {stack.lambda_url}   (functions: {', '.join(stack.template.functions)})",
        f"  AWS (moto):    {stack.aws_url}",
        f"  poll interval: {stack.schedule.ticker.period if stack.schedule else '-'} s",
    ]
    for server, sim in zip(stack.servers, stack.simulators, strict=False):
        lines.append(f"  BBB server:    {server['id']}  {sim.url}  ({server['state']})")
    lines += [
        "",
        f"  try:  scalelite --endpoint-url {stack.lambda_url} servers list",
        f"        aws lambda invoke --endpoint-url {stack.lambda_url} --function-name AdminFunction "
        "--cli-binary-format raw-in-base64-out --payload file://events/admin/status.json out.json",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("scalelite-local: stopping…", flush=True)
    stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
