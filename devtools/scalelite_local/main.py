"""`scalelite-local` (`make run`): the local stack in the foreground; Ctrl-C or SIGTERM stops all of it (a second
Ctrl-C exits at once)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

from scalelite_local.cloudfront import FunctionError
from scalelite_local.edge import EdgeConfigError
from scalelite_local.stack import Config, LocalStack


def banner(stack: LocalStack) -> str:
    api_url = stack.api_url.rstrip("/")  # as the stack's outputs (ApiUrl, BigBlueButtonApiUrl) give it
    assert stack.edge is not None
    buckets = sorted({o.bucket for o in stack.edge.edge.distribution.origins.values() if o.bucket})
    lines = [
        "",
        "Scalelite Serverless local stack is ready.",
        f"  BBB API URL:   {api_url}",
        f"  BBB secret:    {stack.secret}",
        f"  Edge:          {stack.gateway_url}   (CloudFront's behaviours: the API, the player and recording files "
        f"from {', '.join(buckets)})",
        f"  Lambda API:    {stack.lambda_url}   (functions: {', '.join(stack.template.functions)})",
        f"  AWS (moto):    {stack.aws_url}   (tables: {', '.join(stack.template.tables)}; buckets: "
        + ", ".join(stack.template.local_bucket_name(b) for b in stack.template.buckets)
        + f"; queues: {', '.join(stack.template.queues)})",
    ]
    for function, schedule in stack.schedules.items():
        lines.append(f"  schedule:      {function} every {schedule.period:g} s")
    for function, poller in stack.queue_pollers.items():
        lines.append(f"  queue:         {poller.source.queue} → {function} (polled every {poller.period:g} s)")
    for server in stack.servers:
        lines.append(f"  BBB server:    {server['id']}  {server['url']}  ({server['state']}, {server['online']})")
    lines += [
        "",
        f"  try:  scalelite --endpoint-url {stack.lambda_url} servers list",
        f"        bbbctl --server {api_url} --secret {stack.secret} meeting list",
        f"        AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws lambda invoke --region us-east-1 "
        f"--endpoint-url {stack.lambda_url} --function-name AdminFunction "
        "--payload fileb://events/admin/status.json /dev/stdout",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scalelite-local",
        description="Scalelite Serverless on this machine: moto, an API Gateway-style gateway, the Lambda Invoke "
        "API, schedules, S3 events, SQS event sources and simulated BBB servers. Settings come from the environment: "
        "SCALELITE_PORT, SCALELITE_LAMBDA_PORT, SCALELITE_AWS_PORT, SIMULATED_SERVERS, POLL_INTERVAL, "
        "LOADBALANCER_SECRET and any function setting (see docs/local-stack.md).",
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = Config.from_env()

    stop = threading.Event()
    ready = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGTERM:
            # Already stopping. A repeated SIGTERM is not an impatient user: `make` forwards the SIGTERM it gets to
            # its child, so `kill -TERM -<pgid>` of `make run` delivers it twice. Stop as cleanly as on Ctrl-C.
            return
        if stop.is_set():  # second Ctrl-C: do not wait for a handler that will not finish
            sys.stderr.write("scalelite-local: forced exit\n")
            os._exit(130)
        stop.set()
        if not ready:
            raise KeyboardInterrupt  # abort start-up; start() cleans up what it started

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        stack = LocalStack(config)
        print("scalelite-local: starting (moto, gateway, Lambda API, simulated BBB servers)…", flush=True)
        stack.start()
    except KeyboardInterrupt:
        print("scalelite-local: interrupted", file=sys.stderr)
        return 130
    except (FunctionError, EdgeConfigError) as exc:
        print(f"scalelite-local: could not start the edge: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"scalelite-local: could not start: {exc} (a port in use? set SCALELITE_PORT, SCALELITE_LAMBDA_PORT "
            "or SCALELITE_AWS_PORT)",
            file=sys.stderr,
        )
        return 1
    ready = True
    print(banner(stack) + f"(started in {time.monotonic() - started:.1f} s)", flush=True)
    while not stop.wait(1.0):
        pass
    print("scalelite-local: stopping…", flush=True)
    stack.stop(grace=1.0)
    print("scalelite-local: stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
