"""The `scalelite` command: Scalelite's rake tasks as subcommands, run by the AdminFunction.

Every command becomes one `{"command": ..., "args": {...}}` event (CONVENTIONS.md) sent with boto3
`lambda.invoke`: to AWS (function name from `--function-name`, or the `AdminFunctionName` output of
`--stack-name`), or to a local stack with `--endpoint-url`. Output is a human table, or JSON with `--json`.
Destructive commands ask for confirmation unless `--yes`. Errors are one `error: …` line on stderr, exit 1
(usage errors exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

Invoker = Callable[[dict[str, Any]], dict[str, Any]]
DEFAULT_FUNCTION = "AdminFunction"
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIAL = "testing"  # the local stack (moto) accepts any credentials


class CLIError(Exception):
    """Shown to the operator as one line: `error: <message>`."""


class CommandFailed(CLIError):
    """The admin function refused the command; `status` is its HTTP-like code (409: repeat with force)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# -------------------------------------------------------------------------------------- invoking the function
def lambda_invoker(
    *, endpoint_url: str | None, stack_name: str | None, function_name: str | None, region: str | None
) -> Invoker:
    """An invoker for the AdminFunction through boto3 (one code path for AWS and the local stack)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError
    from botocore.parsers import ResponseParserError

    where = endpoint_url or "AWS"
    config = Config(connect_timeout=10, read_timeout=900, retries={"total_max_attempts": 1})

    def session() -> Any:
        # boto3 reads AWS_DEFAULT_REGION and the config files; AWS_REGION (what the AWS CLI v2 and Lambda set) is
        # honoured too, after those.
        base = boto3.session.Session(region_name=region)
        if base.region_name is None and os.environ.get("AWS_REGION"):
            base = boto3.session.Session(region_name=os.environ["AWS_REGION"])
        if endpoint_url is None:
            if base.region_name is None:
                raise CLIError("no AWS region configured: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION")
            return base
        # A local stack needs no real account: a machine without any AWS configuration must work too.
        try:
            credentials = base.get_credentials()
        except BotoCoreError:
            credentials = None
        if credentials is None:
            return boto3.session.Session(
                aws_access_key_id=LOCAL_CREDENTIAL,
                aws_secret_access_key=LOCAL_CREDENTIAL,
                region_name=base.region_name or LOCAL_REGION,
            )
        return base if base.region_name else boto3.session.Session(region_name=LOCAL_REGION)

    def guarded[T](call: Callable[[], T]) -> T:
        try:
            return call()
        except EndpointConnectionError as exc:
            raise CLIError(f"cannot reach {where}: {exc}") from None
        except NoCredentialsError:
            raise CLIError(
                "no AWS credentials found: configure them, or use --endpoint-url for a local stack"
            ) from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise CLIError(f"{err.get('Code', 'error')}: {err.get('Message', str(exc))}") from None
        except BotoCoreError as exc:
            raise CLIError(f"{where}: {exc}") from None
        except ResponseParserError:  # something answered, but not an AWS API (a wrong port, a proxy page)
            raise CLIError(f"{where} did not answer like an AWS endpoint: check the URL") from None

    resolved: dict[str, Any] = {}

    def target() -> tuple[Any, str]:
        if not resolved:
            sess = session()
            name = function_name
            if name is None and stack_name:
                cfn = sess.client("cloudformation", endpoint_url=endpoint_url, config=config)
                stacks = guarded(lambda: cfn.describe_stacks(StackName=stack_name)["Stacks"])
                outputs = {o["OutputKey"]: o["OutputValue"] for o in (stacks[0].get("Outputs") or [])} if stacks else {}
                name = outputs.get("AdminFunctionName")
                if not name:
                    raise CLIError(f"stack {stack_name} has no AdminFunctionName output")
            resolved["client"] = sess.client("lambda", endpoint_url=endpoint_url, config=config)
            resolved["name"] = name or DEFAULT_FUNCTION
        return resolved["client"], resolved["name"]

    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        client, name = target()
        response = guarded(
            lambda: client.invoke(FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(payload))
        )
        raw = guarded(lambda: response["Payload"].read())
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise CLIError(f"the admin function {name} answered something that is not JSON") from None
        if response.get("FunctionError"):
            detail = body.get("errorMessage") if isinstance(body, dict) else None
            raise CLIError(f"the admin function {name} failed: {detail or response['FunctionError']}")
        if not isinstance(body, dict):
            raise CLIError(f"the admin function {name} gave an unexpected answer")
        return body

    return invoke


# ----------------------------------------------------------------------------------------------- output
@dataclass
class IOStreams:
    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    interactive: bool


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _load(value: Any) -> str:
    """Load with one decimal (the JSON keeps three); `unavailable` as it is."""
    return value if isinstance(value, str) else f"{value:.1f}" if isinstance(value, int | float) else str(value)


MASKED = "********"  # fixed length: the table tells nothing about the secret


def _secret(value: Any, show: bool) -> str:
    return str(value) if show or not value else MASKED


def _status_text(server: dict[str, Any]) -> str:
    """`online`/`offline`, and why an offline server is offline (the poller's last_error)."""
    error = server.get("last_error") or ""
    return f"{server['online']} ({error})" if error and server["online"] != "online" else str(server["online"])


def _hosts(servers: Sequence[dict[str, Any]]) -> list[str]:
    """The servers' hosts: `host` alone unless two servers share it or a port is not the scheme's default, then
    `host:port` for every row (a local stack runs every simulated server on 127.0.0.1)."""
    parts = []
    for s in servers:
        url = urlsplit(str(s.get("url") or ""))
        try:
            port = url.port
        except ValueError:
            port = None
        host = str(s.get("hostname") or url.hostname or s.get("url") or "")
        default = {"http": 80, "https": 443}.get(url.scheme)
        parts.append((host, port or default, port is not None and port != default))
    names = [host for host, _, _ in parts]
    with_port = len(set(names)) < len(names) or any(odd for _, _, odd in parts)
    return [f"{host}:{port}" if with_port and port else host for host, port, _ in parts]


def render_servers(servers: list[dict[str, Any]], *, show_secrets: bool = False) -> str:
    if not servers:
        return "No servers are configured"
    rows = [
        [
            s["id"],
            s["url"],
            _secret(s.get("secret"), show_secrets),
            s["state"],
            _status_text(s),
            _load(s["load"]),
            f"{s['load_multiplier']:g}",
            s["tag"],
            s["bbb_version"],
        ]
        for s in servers
    ]
    return table(["ID", "URL", "SECRET", "STATE", "STATUS", "LOAD", "MULTIPLIER", "TAG", "BBB VERSION"], rows)


def render_status(servers: list[dict[str, Any]]) -> str:
    rows = [
        [
            s["id"],
            host,
            s["state"],
            _status_text(s),
            s["meetings"],
            s["users"],
            s["largest_meeting"],
            s["videos"],
            _load(s["load"]),
            s["bbb_version"],
            s["tag"],
        ]
        for s, host in zip(servers, _hosts(servers), strict=True)
    ]
    headers = [
        "ID",
        "HOSTNAME",
        "STATE",
        "STATUS",
        "MEETINGS",
        "USERS",
        "LARGEST MEETING",
        "VIDEOS",
        "LOAD",
        "BBB VERSION",
        "TAG",
    ]
    return table(headers, rows)


def render_mapping(data: dict[str, Any], indent: str = "") -> str:
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:" + ("" if value else " -"))
            if value:
                lines.append(render_mapping(value, indent + "  "))
        elif isinstance(value, list):
            lines.append(f"{indent}{key}: {', '.join(str(v) for v in value) if value else '-'}")
        else:
            lines.append(f"{indent}{key}: {'' if value is None else value}")
    return "\n".join(lines)


def render_changes(changes: list[dict[str, Any]]) -> str:
    lines = []
    for change in changes:
        details = ", ".join(f"{k}={v}" for k, v in change.items() if k not in ("id", "action"))
        lines.append(f"[{change['id']}] {change['action']}" + (f" ({details})" if details else ""))
    return "\n".join(lines) or "No changes"


def render_meetings(meetings: list[dict[str, Any]]) -> str:
    if not meetings:
        return "No meetings"
    rows = [
        [
            m["meeting_id"],
            m["server_id"],
            m["server_url"],
            m.get("name", ""),
            "" if m.get("participants") is None else m["participants"],
            "?" if m.get("running") is None else "yes" if m["running"] else "no",
            m.get("error", ""),
        ]
        for m in meetings
    ]
    return table(["MEETING ID", "SERVER ID", "SERVER URL", "NAME", "USERS", "RUNNING", "ERROR"], rows)


# ---------------------------------------------------------------------------------------------- commands
class Runner:
    def __init__(self, args: argparse.Namespace, invoker: Invoker, io: IOStreams) -> None:
        self.args = args
        self.invoker = invoker
        self.io = io

    def call(self, command: str, **args: Any) -> Any:
        reply = self.invoker({"command": command, "args": {k: v for k, v in args.items() if v is not None}})
        if reply.get("ok") is True:
            return reply.get("result")
        raise CommandFailed(str(reply.get("error") or "the command failed"), int(reply.get("status") or 400))

    def out(self, human: str, data: Any) -> None:
        if self.args.json:
            self.io.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
        else:
            self.io.stdout.write(human.rstrip("\n") + "\n")

    def confirm(self, question: str) -> None:
        if self.args.yes:
            return
        if not self.io.interactive:
            raise CLIError(f"{question} Refusing without confirmation: pass --yes (no terminal to ask on)")
        self.io.stderr.write(f"{question}\nType 'yes' to continue: ")
        self.io.stderr.flush()
        if self.io.stdin.readline().strip().lower() != "yes":
            raise CLIError("aborted: nothing was changed")

    # ---------------------------------------------------------------- servers
    def status(self) -> None:
        servers = self.call("status")["servers"]
        self.out(render_status(servers) if servers else "No servers are configured", servers)

    def servers_list(self) -> None:
        servers = self.call("servers.list")["servers"]
        # --json carries the secrets unchanged (scripts read them); the table masks them unless asked.
        self.out(render_servers(servers, show_secrets=self._show_secrets()), servers)

    def servers_get(self) -> None:
        server = self.call("servers.get", id=self.args.id)
        shown = (
            {**server, "secret": _secret(server.get("secret"), self._show_secrets())} if "secret" in server else server
        )
        self.out(render_mapping(shown), server)

    def _show_secrets(self) -> bool:
        return bool(getattr(self.args, "show_secrets", False))

    def servers_add(self) -> None:
        a = self.args
        multiplier = _either(a.load_multiplier, a.multiplier, "the load multiplier")
        tag = _either(a.tag, a.positional_tag, "the tag")
        server = self.call(
            "servers.add", url=a.url, secret=a.secret, load_multiplier=multiplier, tag=tag, id=a.server_id
        )
        self.out(
            f"OK\nid: {server['id']}\n(added disabled: enable it with `scalelite servers enable {server['id']}`)",
            server,
        )

    def servers_update(self) -> None:
        a = self.args
        fields = {"url": a.url, "secret": a.secret, "load_multiplier": a.load_multiplier, "tag": a.tag}
        self._updated(self.call("servers.update", id=a.id, **fields))

    def servers_load_multiplier(self) -> None:
        self._updated(self.call("servers.update", id=self.args.id, load_multiplier=self.args.value))

    def servers_tag(self) -> None:
        self._updated(self.call("servers.update", id=self.args.id, tag=self.args.tag))

    def _updated(self, server: dict[str, Any]) -> None:
        self.out("OK\n" + render_servers([server]), server)

    def servers_remove(self) -> None:
        self.confirm(
            f"Remove server {self.args.id}? Meetings still mapped to it will be placed anew on their next"
            " create (panic it first to end them)."
        )
        result = self.call("servers.remove", id=self.args.id)
        self.out(f"OK: removed {result['removed']}", result)

    def servers_enable(self) -> None:
        self._updated(self.call("servers.enable", id=self.args.id))

    def servers_cordon(self) -> None:
        self._updated(self.call("servers.cordon", id=self.args.id))

    def servers_disable(self) -> None:
        try:
            server = self.call("servers.disable", id=self.args.id)
        except CommandFailed as exc:
            if exc.status != 409:
                raise
            self.confirm(f"{exc}".replace(" Repeat with force to do so.", "") + " Disable it anyway?")
            server = self.call("servers.disable", id=self.args.id, force=True)
        self._updated(server)

    def servers_panic(self) -> None:
        a = self.args
        what = "forget and end" if not a.skip_end_calls else "forget"
        state = "" if a.keep_state else " and disable the server"
        self.confirm(f"Panic server {a.id}: {what} all its meetings{state}?")
        result = self.call("servers.panic", id=a.id, keep_state=a.keep_state, skip_end_calls=a.skip_end_calls)
        lines = [f"Clearing Meeting id={mid}" for mid in result["meetings_cleared"]]
        lines += [f"WARNING: Could not end meeting id={mid}: {err}" for mid, err in result["end_errors"].items()]
        self.out("\n".join([*lines, "OK"]), result)

    def servers_sync(self) -> None:
        a = self.args
        try:
            text = self.io.stdin.read() if a.file == "-" else Path(a.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CLIError(f"cannot read {a.file}: {exc.strerror or exc}") from None
        if a.mode == "force" and not a.dry_run:
            plan = self.call("servers.sync", yaml=text, mode=a.mode, dry_run=True)
            self.io.stderr.write(render_changes(plan["changes"]) + "\n")
            self.confirm("Sync in force mode ends the meetings of the servers not in the file and removes them.")
        result = self.call("servers.sync", yaml=text, mode=a.mode, dry_run=a.dry_run)
        footer = "(dry run: nothing was changed)" if not result["applied"] else "OK"
        self.out(render_changes(result["changes"]) + "\n" + footer, result)

    def servers_yaml(self) -> None:
        result = self.call("servers.yaml", verbose=self.args.verbose)
        self.out(result["yaml"], result)

    # ---------------------------------------------------------------- poll / meetings
    def poll(self) -> None:
        result = self.call("poll", what=self.args.what)
        self.out(render_mapping(result), result)

    def meetings_list(self) -> None:
        result = self.call("meetings.list", meeting_ids=_ids(self.args.meeting_ids))
        human = render_meetings(result["meetings"])
        if result.get("not_found"):
            human += "\nNot found: " + ", ".join(result["not_found"])
        self.out(human, result)

    def meetings_info(self) -> None:
        result = self.call("meetings.info", meeting_id=self.args.meeting_id)
        self.out(render_mapping(result), result)

    def meetings_end(self) -> None:
        ids = _ids(self.args.meeting_ids)
        self.confirm(f"End meeting(s) {', '.join(ids)}?" if ids else "End ALL meetings on all servers?")
        result = self.call("meetings.end", meeting_ids=ids)
        lines = [f"Clearing Meeting id={mid}" for mid in result["ended"]] or ["No meetings to clear"]
        lines += [f"WARNING: Could not end meeting id={mid}: {err}" for mid, err in result["errors"].items()]
        lines += [f"Not found: {mid}" for mid in result.get("not_found", [])]
        self.out("\n".join([*lines, "OK"]), result)


def _either[T](option: T | None, positional: T | None, what: str) -> T | None:
    """A value that may be given as an option or positionally (Scalelite's argument order), not both differently."""
    if option is not None and positional is not None and option != positional:
        raise CLIError(f"{what} was given twice, with different values")
    return option if option is not None else positional


def _ids(values: list[str] | None) -> list[str] | None:
    """Meeting ids as separate arguments or Scalelite's `id1:id2`."""
    ids = [part for value in values or [] for part in value.split(":") if part]
    return ids or None


# ---------------------------------------------------------------------------------------------- parsing
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every other usage error
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    # Options valid both before and after the subcommand: the sub-parsers' copies default to SUPPRESS so they
    # do not overwrite a value given before the subcommand.
    def common(suppress: bool) -> _Parser:
        p = _Parser(add_help=False)
        d: Any = argparse.SUPPRESS if suppress else None
        p.add_argument("--endpoint-url", default=d, help="local stack endpoint (e.g. http://localhost:3001)")
        p.add_argument("--stack-name", default=d, help="find the function in this CloudFormation stack's outputs")
        p.add_argument("--function-name", default=d, help=f"admin function name (default {DEFAULT_FUNCTION})")
        p.add_argument("--region", default=d, help="AWS region")
        p.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS if suppress else False,
            help="machine-readable JSON output",
        )
        p.add_argument(
            "--yes",
            "-y",
            action="store_true",
            default=argparse.SUPPRESS if suppress else False,
            help="do not ask for confirmation",
        )
        return p

    sub_common = common(True)
    parser = _Parser(prog="scalelite", description="Administer Scalelite Serverless.", parents=[common(False)])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(
        group: Any, name: str, handler: str, help_text: str, aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(
            name, help=help_text, description=help_text, parents=[sub_common], aliases=list(aliases)
        )
        p.set_defaults(handler=handler)
        return p

    add(commands, "status", "status", "servers with their state, health, meetings, users and load")

    # A bare `servers` or `meetings` lists, as Scalelite's `rake servers` and `rake meetings` do.
    servers = commands.add_parser("servers", help="manage BigBlueButton servers", parents=[sub_common])
    servers.set_defaults(handler="servers_list")
    show_secrets_help = "show the secrets in the table (they are masked; --json always carries them)"
    servers.add_argument("--show-secrets", action="store_true", help=show_secrets_help)
    s = servers.add_subparsers(dest="servers_command", required=False, metavar="ACTION", parser_class=_Parser)
    add(s, "list", "servers_list", "list the servers").add_argument(
        "--show-secrets", action="store_true", default=argparse.SUPPRESS, help=show_secrets_help
    )
    p = add(s, "get", "servers_get", "show one server")
    p.add_argument("id")
    p.add_argument("--show-secrets", action="store_true", default=argparse.SUPPRESS, help=show_secrets_help)
    p = add(s, "add", "servers_add", "add a server (it starts disabled)")
    p.add_argument("url", help="BBB API URL, e.g. https://bbb1.example.com/bigbluebutton/api")
    p.add_argument("secret", help="the server's shared secret (bbb-conf --secret)")
    # Also positional, in the order of Scalelite's `servers:add[url,secret,load_multiplier,tag]`.
    p.add_argument("multiplier", nargs="?", type=_number, metavar="LOAD_MULTIPLIER", help="same as --load-multiplier")
    p.add_argument("positional_tag", nargs="?", metavar="TAG", help="same as --tag")
    p.add_argument("--load-multiplier", type=_number)
    p.add_argument("--tag")
    p.add_argument(
        "--id", dest="server_id", help="server id (default: a UUID, or the hostname with SERVER_ID_IS_HOSTNAME)"
    )
    p = add(s, "update", "servers_update", "change a server's URL, secret, load multiplier or tag")
    p.add_argument("id")
    p.add_argument("--url")
    p.add_argument("--secret")
    p.add_argument("--load-multiplier", type=_number)
    p.add_argument("--tag", help='"" removes the tag')
    add(s, "remove", "servers_remove", "remove a server").add_argument("id")
    add(s, "enable", "servers_enable", "let the server receive new meetings").add_argument("id")
    add(s, "cordon", "servers_cordon", "no new meetings; running ones continue").add_argument("id")
    add(s, "disable", "servers_disable", "no new meetings, joins refused").add_argument("id")
    p = add(s, "panic", "servers_panic", "forget and end all meetings of a server, and disable it")
    p.add_argument("id")
    p.add_argument("--keep-state", action="store_true", help="do not disable the server")
    p.add_argument("--skip-end-calls", action="store_true", help="only forget the meetings, do not end them")
    p = add(s, "load-multiplier", "servers_load_multiplier", "set a server's load multiplier", ["loadMultiplier"])
    p.add_argument("id")
    p.add_argument("value", type=_number)
    p = add(s, "tag", "servers_tag", 'set a server\'s tag ("" removes it)')
    p.add_argument("id")
    p.add_argument("tag")
    p = add(s, "sync", "servers_sync", "make the server list match a YAML file")
    p.add_argument("file", help="YAML file, - for stdin")
    p.add_argument(
        "--mode",
        choices=("keep", "cordon", "force"),
        default="cordon",
        help="servers not in the file: keep them, remove or cordon them (default), or end their "
        "meetings and remove them",
    )
    p.add_argument("--dry-run", action="store_true", help="show the changes without making them")
    p = add(s, "yaml", "servers_yaml", "print the server list in the sync format")
    p.add_argument("--verbose", action="store_true", help="add state, load, version and status")

    p = add(commands, "poll", "poll", "run one poll now and wait for it")
    p.add_argument("what", nargs="?", choices=("all", "servers", "meetings", "versions"), default="all")

    meetings = commands.add_parser("meetings", help="list, inspect or end meetings", parents=[sub_common])
    meetings.set_defaults(handler="meetings_list", meeting_ids=[])
    m = meetings.add_subparsers(dest="meetings_command", required=False, metavar="ACTION", parser_class=_Parser)
    add(m, "list", "meetings_list", "list meetings and their servers").add_argument("meeting_ids", nargs="*")
    add(m, "info", "meetings_info", "details of one meeting").add_argument("meeting_id")
    add(m, "end", "meetings_end", "end meetings (all if none given)").add_argument("meeting_ids", nargs="*")
    return parser


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
