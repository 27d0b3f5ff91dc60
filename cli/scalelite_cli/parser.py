"""The argparse tree: every command, action and option; usage errors are one line, exit 2."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from scalelite_cli import tenants
from scalelite_cli.transport import DEFAULT_FUNCTION


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

    recordings = commands.add_parser(
        "recordings", help="list, publish, delete or import recordings", parents=[sub_common]
    )
    recordings.set_defaults(handler="recordings_list", meeting_id=None, state=None)
    r = recordings.add_subparsers(dest="recordings_command", required=False, metavar="ACTION", parser_class=_Parser)
    p = add(r, "list", "recordings_list", "list recordings, newest first")
    p.add_argument("--meeting-id", help="only this meeting's recordings")
    p.add_argument("--state", help="comma list of states, or any (default: published,unpublished)")
    add(r, "info", "recordings_info", "details of one recording").add_argument("record_id")
    add(r, "publish", "recordings_publish", "publish recordings").add_argument("record_ids", nargs="+")
    add(r, "unpublish", "recordings_unpublish", "unpublish recordings").add_argument("record_ids", nargs="+")
    add(r, "delete", "recordings_delete", "delete recordings and their files").add_argument("record_ids", nargs="+")
    p = add(r, "import", "recordings_import", "upload recordings from disk to the importer")
    p.add_argument("paths", nargs="+", metavar="PATH", help="archive, <format>/<recordID>/ trees, or their parent")
    add(r, "failed", "recordings_failed", "uploads the importer rejected, with the reason")
    p = add(r, "add-to-tenant", "recordings_add_to_tenant", "give the recordings without a tenant to this one")
    p.add_argument("tenant_id", metavar="TENANT_ID")
    p = add(r, "check", "recordings_check", "compare S3 and DynamoDB: files without a recording and the reverse")
    p.add_argument("--fix", action="store_true", help="move misplaced files under the prefix their recording needs")

    # A bare `playback` shows the status.
    playback = commands.add_parser("playback", help="install, inspect or roll back the player", parents=[sub_common])
    playback.set_defaults(handler="playback_status")
    pb = playback.add_subparsers(dest="playback_command", required=False, metavar="ACTION", parser_class=_Parser)
    add(pb, "status", "playback_status", "the live player version and every installed one")
    p = add(pb, "install", "playback_install", "install a built bbb-playback and make it live")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("dir", nargs="?", metavar="DIR", help="the built player (index.html at its root)")
    source.add_argument("--from-server", metavar="SERVER_ID", help="copy the player this pool server serves")
    p.add_argument("--version", dest="player_version", help="version name (default: a hash of the files)")
    add(pb, "activate", "playback_activate", "make an installed version live (rollback)").add_argument("version")

    tenants.add_parsers(commands, add, _Parser, sub_common)
    return parser
