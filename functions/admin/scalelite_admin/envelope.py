"""The AdminFunction's event contract (CONVENTIONS.md): `{"command", "args"}` in, `{"ok": true, "result"}` or
`{"ok": false, "error", "status"}` out, the status chosen here from the kind of refusal."""

from __future__ import annotations

from typing import Any

from scalelite_common.config import ConfigError, get_settings
from scalelite_common.errors import AdminConflict, AdminError, AdminNotFound, AdminUpstreamError
from scalelite_common.observability import bounded, emit, logger
from scalelite_common.services import wiring
from scalelite_common.services.admin.registry import COMMANDS, dispatch

STATUSES: dict[type[AdminError], int] = {AdminNotFound: 404, AdminConflict: 409, AdminUpstreamError: 502}
INVALID = 400
INTERNAL = 500


def status_for(exc: AdminError) -> int:
    """The envelope's status of a refusal: 400 (invalid input) unless a subclass says otherwise."""
    return STATUSES.get(type(exc), INVALID)


def handle_event(event: Any, *, request_id: str = "") -> dict[str, Any]:
    """Bad input is answered, never raised; anything unexpected is logged with its traceback and answered with a
    generic message."""
    if not isinstance(event, dict) or not isinstance(event.get("command"), str):
        return _failure('The event must be {"command": "<name>", "args": {...}}', INVALID, None)
    command = event["command"]
    args = event.get("args")
    if args is not None and not isinstance(args, dict):
        return _failure(f"{command}: 'args' must be an object", INVALID, command)
    logger.append_keys(admin_command=command)
    try:
        ctx = wiring.admin_context(get_settings())
        result = dispatch(command, args, ctx)
    except AdminError as exc:
        status = status_for(exc)
        logger.info("admin command refused", error=exc.message, status=status)
        return _failure(exc.message, status, command)
    except ConfigError as exc:
        logger.error("configuration error", error=str(exc))
        return _failure(f"Configuration error: {exc}", INTERNAL, command)
    except Exception:
        logger.exception("admin command failed")
        suffix = f" (request id {request_id})" if request_id else ""
        return _failure(f"Internal error: see the AdminFunction logs{suffix}", INTERNAL, command)
    logger.info("admin command done")
    emit("AdminCommands", Command=bounded(command, COMMANDS))
    return {"ok": True, "result": result}


def _failure(message: str, status: int, command: str | None) -> dict[str, Any]:
    emit("AdminCommandsFailed", Command=bounded(command, COMMANDS))  # a name outside COMMANDS counts as unknown
    return {"ok": False, "error": message, "status": status}
