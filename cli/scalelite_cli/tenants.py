"""`scalelite tenants …`: the tenant commands (multitenancy), their argparse subtree and their Runner methods
(mixed into `commands.Runner`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scalelite_cli.render import _secret, render_mapping, table

AddParser = Callable[..., argparse.ArgumentParser]  # parser.build_parser's `add(group, name, handler, help)`


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number >= 0: {text!r}")
    return int(text)


def add_parsers(commands: Any, add: AddParser, parser_class: type[argparse.ArgumentParser], common: Any) -> None:
    """`tenants` (bare: list), `tenants list|add|update|remove`."""
    tenants = commands.add_parser("tenants", help="manage tenants (multitenancy)", parents=[common])
    tenants.set_defaults(handler="tenants_list")
    show_help = "show the secrets in the table (they are masked; --json always carries them)"
    tenants.add_argument("--show-secrets", action="store_true", help=show_help)
    t = tenants.add_subparsers(dest="tenants_command", required=False, metavar="ACTION", parser_class=parser_class)
    add(t, "list", "tenants_list", "list the tenants").add_argument(
        "--show-secrets", action="store_true", default=argparse.SUPPRESS, help=show_help
    )
    p = add(t, "add", "tenants_add", "add a tenant: NAME is its host label (NAME.URL_HOST)")
    p.add_argument("name", help="one DNS label: a-z, 0-9 and '-', at most 63 characters")
    p.add_argument("--secrets", required=True, help="colon-separated secrets, e.g. S1:S2 (any of them signs)")
    p.add_argument("--max-meetings", type=_count, help="concurrent meetings (0 = unlimited, the default)")
    p.add_argument("--max-attendees", type=_count, help="concurrent attendees (0 = unlimited, the default)")
    p = add(t, "update", "tenants_update", "rename a tenant, replace its secrets or change its limits")
    p.add_argument("id")
    p.add_argument("--name")
    p.add_argument("--secrets", help="colon-separated; replaces the list (keep the old one too to rotate)")
    p.add_argument("--max-meetings", type=_count, help="0 = unlimited")
    p.add_argument("--max-attendees", type=_count, help="0 = unlimited")
    p = add(t, "remove", "tenants_remove", "remove a tenant (refused while it has live meetings)")
    p.add_argument("id")
    p.add_argument("--force", action="store_true", help="end the tenant's live meetings, then remove it")

    settings = commands.add_parser(
        "tenant-settings", help="a tenant's create/join parameter rules (multitenancy)", parents=[common]
    )
    settings.set_defaults(handler="tenant_settings_list", tenant=None)
    ts = settings.add_subparsers(
        dest="tenant_settings_command", required=False, metavar="ACTION", parser_class=parser_class
    )
    add(ts, "list", "tenant_settings_list", "list the settings").add_argument("--tenant", help="only this tenant's")
    p = add(ts, "add", "tenant_settings_add", "add a setting: a default, unless --override, --cap or --append")
    p.add_argument("tenant_id", metavar="TENANT_ID")
    p.add_argument("param", metavar="PARAM", help="a create/join parameter, e.g. maxParticipants, meta_server-tag")
    p.add_argument("value", metavar="VALUE")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--override", dest="mode", action="store_const", const="override", help="forced")
    mode.add_argument("--cap", dest="mode", action="store_const", const="cap", help="a numeric maximum")
    mode.add_argument("--append", dest="mode", action="store_const", const="append", help="added to a comma list")
    add(ts, "remove", "tenant_settings_remove", "remove a setting").add_argument("id")


def render_tenants(tenants: list[dict[str, Any]], *, show_secrets: bool = False) -> str:
    if not tenants:
        return "No tenants are configured"
    rows = [
        [
            t["id"],
            t["name"],
            ":".join(_secret(s, show_secrets) for s in str(t["secrets"]).split(":")),
            t["max_meetings"] or "-",
            t["max_attendees"] or "-",
        ]
        for t in tenants
    ]
    return table(["ID", "NAME", "SECRETS", "MAX MEETINGS", "MAX ATTENDEES"], rows)


def render_settings(settings: list[dict[str, Any]]) -> str:
    if not settings:
        return "No tenant settings"
    rows = [[x["id"], x["tenant_id"], x["param"], x["value"], x["mode"]] for x in settings]
    return table(["ID", "TENANT", "PARAM", "VALUE", "MODE"], rows)


class TenantCommands:
    if TYPE_CHECKING:
        args: argparse.Namespace

        def call(self, command: str, **args: Any) -> Any: ...
        def out(self, human: str, data: Any) -> None: ...
        def confirm(self, question: str) -> None: ...

    def _tenant_secrets_shown(self) -> bool:
        return bool(getattr(self.args, "show_secrets", False))

    def tenants_list(self) -> None:
        result = self.call("tenants.list")
        self.out(render_tenants(result["tenants"], show_secrets=self._tenant_secrets_shown()), result)

    def tenants_add(self) -> None:
        a = self.args
        tenant = self.call(
            "tenants.add",
            name=a.name,
            secrets=a.secrets,
            max_meetings=a.max_meetings,
            max_attendees=a.max_attendees,
        )
        self.out(f"OK\nid: {tenant['id']}\nname: {tenant['name']}", tenant)

    def tenants_update(self) -> None:
        a = self.args
        tenant = self.call(
            "tenants.update",
            id=a.id,
            name=a.name,
            secrets=a.secrets,
            max_meetings=a.max_meetings,
            max_attendees=a.max_attendees,
        )
        shown = {**tenant, "secrets": ":".join(_secret(s, False) for s in str(tenant["secrets"]).split(":"))}
        self.out("OK\n" + render_mapping(shown), tenant)

    def tenants_remove(self) -> None:
        a = self.args
        ending = " End its live meetings," if a.force else ""
        self.confirm(f"Remove tenant {a.id}?{ending} Its settings go, its BBB API secrets stop working within 10 s.")
        result = self.call("tenants.remove", id=a.id, force=a.force or None)
        lines = [f"Clearing Meeting id={mid}" for mid in result["meetings_ended"]]
        lines += [
            f"WARNING: Could not end meeting id={mid}: {err}" for mid, err in result.get("end_errors", {}).items()
        ]
        self.out("\n".join([*lines, f"OK: removed {result['removed']}"]), result)

    def tenant_settings_list(self) -> None:
        result = self.call("tenant_settings.list", tenant_id=self.args.tenant)
        self.out(render_settings(result["settings"]), result)

    def tenant_settings_add(self) -> None:
        a = self.args
        setting = self.call("tenant_settings.add", tenant_id=a.tenant_id, param=a.param, value=a.value, mode=a.mode)
        self.out(f"OK\nid: {setting['id']}", setting)

    def tenant_settings_remove(self) -> None:
        result = self.call("tenant_settings.remove", id=self.args.id)
        self.out(f"OK: removed {result['removed']}", result)

    def recordings_add_to_tenant(self) -> None:
        tenant_id = self.args.tenant_id
        self.confirm(f"Give every recording without a tenant to tenant {tenant_id}?")
        result = self.call("recordings.add_to_tenant", tenant_id=tenant_id)
        lines = [f"Added {rid} to tenant {tenant_id}" for rid in result["moved"]] or ["No recordings without a tenant"]
        lines += [f"WARNING: {rid} changed meanwhile, not moved (run it again)" for rid in result["skipped"]]
        self.out("\n".join(lines), result)
