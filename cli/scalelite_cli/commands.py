"""The commands: the `Runner` turns parsed arguments into admin events and writes their results (table or JSON);
destructive commands ask for confirmation unless `--yes`."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from scalelite_cli import importing, player
from scalelite_cli.errors import CLIError, CommandFailed
from scalelite_cli.render import (
    _secret,
    render_changes,
    render_mapping,
    render_meetings,
    render_playback_status,
    render_recordings,
    render_servers,
    render_status,
    table,
)
from scalelite_cli.tenants import TenantCommands
from scalelite_cli.transport import Invoker


@dataclass
class IOStreams:
    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    interactive: bool


class Runner(TenantCommands):
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

    # ---------------------------------------------------------------- recordings
    def recordings_list(self) -> None:
        a = self.args
        result = self.call("recordings.list", meeting_id=a.meeting_id, state=a.state)
        self.out(render_recordings(result["recordings"]), result)

    def recordings_info(self) -> None:
        result = self.call("recordings.info", record_id=self.args.record_id)
        self.out(render_mapping(result), result)

    def _publish(self, publish: bool) -> None:
        result = self.call("recordings.publish", record_ids=self.args.record_ids, publish=publish)
        verb = "Published" if publish else "Unpublished"
        lines = [f"{verb} {r['record_id']}" for r in result["recordings"]]
        lines += [f"Not found: {rid}" for rid in result["not_found"]]
        self.out("\n".join(lines or ["Nothing changed"]), result)
        if result["not_found"]:
            raise CommandFailed("some recordings were not found", 404)

    def recordings_publish(self) -> None:
        self._publish(True)

    def recordings_unpublish(self) -> None:
        self._publish(False)

    def recordings_delete(self) -> None:
        ids = self.args.record_ids
        self.confirm(f"Delete recording(s) {', '.join(ids)} and all their files?")
        result = self.call("recordings.delete", record_ids=ids)
        lines = [f"Deleted {r['record_id']}" for r in result["recordings"]]
        lines += [f"Not found: {rid}" for rid in result["not_found"]]
        self.out("\n".join(lines or ["Nothing deleted"]), result)
        if result["not_found"]:
            raise CommandFailed("some recordings were not found", 404)

    def recordings_failed(self) -> None:
        result = self.call("recordings.failed")
        rows = [[f["key"], f["reason"]] for f in result["failed"]]
        self.out(table(["KEY", "REASON"], rows) if rows else "No rejected uploads", result)

    def recordings_check(self) -> None:
        result = self.call("recordings.check", fix=bool(getattr(self.args, "fix", False)))
        lines = [
            f"files without a recording: {o['prefix']} ({o['files']} files)" for o in result["files_without_recording"]
        ]
        lines += [
            f"misplaced: {m['record_id']} {m['format']} under {m['prefix']}/, belongs under {m['expected']}/ (--fix)"
            for m in result.get("misplaced", [])
        ]
        lines += [
            f"moved: {m['record_id']} {m['format']} from {m['prefix']}/ to {m['expected']}/"
            for m in result.get("relocated", [])
        ]
        lines += [
            f"recording without files: {m['record_id']} {m['format']} (expected under {m['prefix']}/)"
            for m in result["recordings_without_files"]
        ]
        self.out("\n".join(lines or ["OK: S3 and DynamoDB agree"]), result)
        if not result["ok"]:
            raise CommandFailed("S3 and DynamoDB disagree", 409)

    def recordings_import(self) -> None:
        sources = importing.discover(self.args.paths)
        uploaded = []
        with tempfile.TemporaryDirectory(prefix="scalelite-import-") as workdir:
            for source in sources:
                archive = importing.pack(source, workdir)
                grant = self.call("recordings.upload_url", name=archive.name)
                show = importing.progress_bar(self.io.stderr, source.label) if self.io.interactive else _quiet
                importing.upload(grant["url"], grant["headers"], archive, show)
                uploaded.append(
                    {
                        "path": source.label,
                        "record_id": source.record_id,
                        "key": grant["key"],
                        "size": archive.stat().st_size,
                    }
                )
                if archive.parent == Path(workdir):
                    archive.unlink()
        human = "\n".join(f"Uploaded {u['path']} → {u['key']}" for u in uploaded)
        self.out(
            human + "\nThe importer takes them from the spool; see `scalelite recordings failed` for rejections.",
            {"uploaded": uploaded},
        )

    # ---------------------------------------------------------------- playback
    def playback_status(self) -> None:
        result = self.call("playback.status")
        self.out(render_playback_status(result), result)

    def playback_install(self) -> None:
        a = self.args
        if a.from_server:
            result = self.call("playback.install_from_server", server_id=a.from_server, version=a.player_version)
            origin = result["activated"]["source"]
        else:
            result = self._install_dir(a.dir, a.player_version)
            origin = a.dir
        live = result["activated"]
        lines = [f"Uploaded {result['uploaded']} files" if result["uploaded"] else "Already uploaded: nothing to send"]
        lines += [f"Not copied: {s['path']} ({s['reason']})" for s in result.get("skipped", [])]
        lines.append(
            f"OK: player {live['version']} from {origin} is live ({live['files']} files, {_size(live['bytes'])})"
            + (f"; previous: {live['previous']}" if live.get("previous") else "")
        )
        self.out("\n".join(lines), result)

    def _install_dir(self, directory: str, version: str | None) -> dict[str, Any]:
        files = player.scan(directory)
        listing = [f.json() for f in files]
        prepared = self.call("playback.prepare", files=listing, version=version)
        name = prepared["version"]
        uploaded = 0
        if not prepared["installed"]:
            by_path = {f.path: f for f in files}
            grants: list[dict[str, Any]] = []
            paths = [f.path for f in files]
            for start in range(0, len(paths), PLAYER_URL_BATCH):
                batch = paths[start : start + PLAYER_URL_BATCH]
                grants += self.call("playback.upload_urls", version=name, paths=batch)["uploads"]
            player.upload_all(grants, by_path, progress=self._count_progress("Uploading"))
            self.call("playback.commit", version=name, files=listing, source=f"directory {Path(directory).resolve()}")
            uploaded = len(files)
        return {"version": name, "uploaded": uploaded, "skipped": [], "activated": self._activate(name)}

    def _activate(self, version: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("playback.activate", version=version)
        return result

    def _count_progress(self, label: str) -> Callable[[int, int], None]:
        if not self.io.interactive:
            return _quiet

        def show(done: int, total: int) -> None:
            self.io.stderr.write(f"\r{label} {done}/{total} files")
            if done >= total:
                self.io.stderr.write("\n")
            self.io.stderr.flush()

        return show

    def playback_activate(self) -> None:
        live = self._activate(self.args.version)
        previous = f" (previous: {live['previous']})" if live.get("previous") else ""
        self.out(f"OK: player {live['version']} is live{previous}", live)


PLAYER_URL_BATCH = 200  # the admin command's limit per call


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _quiet(sent: int, total: int) -> None:
    """No progress bar without a terminal."""


def _either[T](option: T | None, positional: T | None, what: str) -> T | None:
    """A value that may be given as an option or positionally (Scalelite's argument order), not both differently."""
    if option is not None and positional is not None and option != positional:
        raise CLIError(f"{what} was given twice, with different values")
    return option if option is not None else positional


def _ids(values: list[str] | None) -> list[str] | None:
    """Meeting ids as separate arguments or Scalelite's `id1:id2`."""
    ids = [part for value in values or [] for part in value.split(":") if part]
    return ids or None
