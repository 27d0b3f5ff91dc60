"""The `scalelite` command: Scalelite's rake tasks as subcommands, run by the AdminFunction.

Every command becomes one `{"command": ..., "args": {...}}` event (CONVENTIONS.md) sent with boto3
`lambda.invoke`: to AWS (function name from `--function-name`, or the `AdminFunctionName` output of
`--stack-name`), or to a local stack with `--endpoint-url`. Output is a human table, or JSON with `--json`.
Destructive commands ask for confirmation unless `--yes`. Errors are one `error: …` line on stderr, exit 1
(usage errors exit 2).

This module only wires the parts: `parser` (the argparse tree), `commands` (the `Runner`), `render` (text
output) and `transport` (the invoke), with `errors` shared by them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO

from scalelite_cli.commands import IOStreams, Runner
from scalelite_cli.errors import CLIError
from scalelite_cli.parser import build_parser
from scalelite_cli.transport import Invoker, lambda_invoker


def main(
    argv: Sequence[str] | None = None,
    *,
    invoker: Invoker | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    interactive: bool | None = None,
) -> int:
    """Entry point; tests pass `invoker` to route the events to the admin handler directly."""
    io = IOStreams(
        stdin=stdin or sys.stdin,
        stdout=stdout or sys.stdout,
        stderr=stderr or sys.stderr,
        interactive=interactive if interactive is not None else bool(stdin is None and sys.stdin.isatty()),
    )
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2); argparse wrote the message
        return int(exc.code or 0)
    try:
        if invoker is None:
            invoker = lambda_invoker(
                endpoint_url=args.endpoint_url,
                stack_name=args.stack_name,
                function_name=args.function_name,
                region=args.region,
            )
        getattr(Runner(args, invoker, io), args.handler)()
        return 0
    except CLIError as exc:
        io.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        io.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # never a traceback for the operator
        io.stderr.write(f"error: unexpected {type(exc).__name__}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
