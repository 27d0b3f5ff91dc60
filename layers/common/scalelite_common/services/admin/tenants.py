"""Tenant commands (multitenancy): list, add, update, remove. Changes reach request resolution within 10 s (the
API's tenant cache, services/tenants.py). As in Scalelite, the commands work whether or not MULTITENANCY_ENABLED
is set on the API, so tenants can be prepared before it is switched on."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

from scalelite_common.config import DEFAULT_TENANT
from scalelite_common.domain.tenants import (
    SettingMode,
    Tenant,
    TenantSetting,
    TenantValueError,
    parse_secrets,
    valid_limit,
    valid_name,
    valid_setting,
)
from scalelite_common.errors import (
    AdminConflict,
    AdminError,
    AdminNotFound,
    StoreConflict,
    TenantGone,
    TenantNameTaken,
)
from scalelite_common.presenters.admin_json import tenant_json
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.services.admin.meetings import end_meetings


def _checked[T](parse: Callable[..., T], *args: Any) -> T:
    try:
        return parse(*args)
    except TenantValueError as exc:
        raise AdminError(str(exc)) from None


def _tenant(ctx: AdminContext, tenant_id: str) -> Tenant:
    tenant = ctx.store.get_tenant(tenant_id)
    if tenant is None:
        raise AdminNotFound(f"No tenant found with id: {tenant_id}")
    return tenant


def tenants_list(ctx: AdminContext) -> dict[str, Any]:
    return {"tenants": [tenant_json(t) for t in ctx.store.list_tenants()]}


def tenants_get(ctx: AdminContext, id: str) -> dict[str, Any]:
    return tenant_json(_tenant(ctx, id))


def tenants_add(
    ctx: AdminContext,
    name: str,
    secrets: str,
    max_meetings: Any = None,
    max_attendees: Any = None,
) -> dict[str, Any]:
    tenant = Tenant(
        id=str(uuid.uuid4()),
        name=_checked(valid_name, name),
        secrets=_checked(parse_secrets, secrets),
        max_meetings=_checked(valid_limit, "max_meetings", 0 if max_meetings is None else max_meetings),
        max_attendees=_checked(valid_limit, "max_attendees", 0 if max_attendees is None else max_attendees),
    )
    try:
        ctx.store.add_tenant(tenant)
    except TenantNameTaken:
        raise AdminConflict(f"A tenant named {tenant.name!r} exists already") from None
    return tenant_json(tenant)


def tenants_update(
    ctx: AdminContext,
    id: str,
    name: str | None = None,
    secrets: str | None = None,
    max_meetings: Any = None,
    max_attendees: Any = None,
) -> dict[str, Any]:
    previous = _tenant(ctx, id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _checked(valid_name, name)
    if secrets is not None:
        changes["secrets"] = _checked(parse_secrets, secrets)
    if max_meetings is not None:
        changes["max_meetings"] = _checked(valid_limit, "max_meetings", max_meetings)
    if max_attendees is not None:
        changes["max_attendees"] = _checked(valid_limit, "max_attendees", max_attendees)
    if not changes:
        raise AdminError("tenants.update: nothing to change (name, secrets, max_meetings, max_attendees)")
    tenant = dataclasses.replace(previous, **changes)
    try:
        ctx.store.update_tenant(tenant, previous=previous)
    except TenantNameTaken:
        raise AdminConflict(f"A tenant named {tenant.name!r} exists already") from None
    except TenantGone:
        raise AdminConflict(f"Tenant {id} changed or was removed meanwhile; look again") from None
    return tenant_json(tenant)


def tenants_remove(ctx: AdminContext, id: str, force: bool = False) -> dict[str, Any]:
    """Refused while the tenant has live meetings, unless `force`, which ends them first. Its settings go with it;
    its recordings stay (unreachable through the BBB API until a tenant owns them again)."""
    tenant = _tenant(ctx, id)
    now = time.time()
    live = [m for m in ctx.store.all_meetings() if m.tenant_id == tenant.id and m.expires_at >= now]
    ended: list[str] = []
    errors: dict[str, str] = {}
    if live and not force:
        raise AdminConflict(
            f"Tenant {tenant.name} has {len(live)} live meeting(s); repeat with force"
            " (scalelite tenants remove ID --force) to end them and remove it"
        )
    if live:
        removed, errors = end_meetings(ctx, live)
        ended = [m.meeting_id for m in removed]
    try:
        ctx.store.delete_tenant(tenant)
    except TenantGone:
        raise AdminConflict(f"Tenant {id} changed or was removed meanwhile; look again") from None
    for setting in ctx.store.list_settings(tenant.id):
        ctx.store.delete_setting(setting.id)
    result: dict[str, Any] = {"removed": tenant.id, "meetings_ended": ended}
    if errors:
        result["end_errors"] = errors
    return result


# ------------------------------------------------------------------------------------------ tenant settings
def _setting_json(setting: TenantSetting) -> dict[str, Any]:
    return {
        "id": setting.id,
        "tenant_id": setting.tenant_id,
        "param": setting.param,
        "value": setting.value,
        "mode": setting.mode.value,
    }


def tenant_settings_list(ctx: AdminContext, tenant_id: str | None = None) -> dict[str, Any]:
    if tenant_id is not None:
        _tenant(ctx, tenant_id)
    return {"settings": [_setting_json(x) for x in ctx.store.list_settings(tenant_id)]}


def tenant_settings_add(
    ctx: AdminContext, tenant_id: str, param: str, value: str, mode: str | None = None
) -> dict[str, Any]:
    """A create/join parameter rule of the tenant (applied within 10 s): default (the request wins), override
    (forced), cap (a numeric maximum, also when the request omits it or sends 0) or append (comma lists)."""
    _tenant(ctx, tenant_id)
    try:
        chosen = SettingMode(mode or SettingMode.DEFAULT.value)
    except ValueError:
        raise AdminError(f"mode must be one of {', '.join(m.value for m in SettingMode)}, got {mode!r}") from None
    param, value = _checked(valid_setting, param, value, chosen)
    setting = TenantSetting(id=str(uuid.uuid4()), tenant_id=tenant_id, param=param, value=value, mode=chosen)
    ctx.store.add_setting(setting)
    return _setting_json(setting)


def tenant_settings_remove(ctx: AdminContext, id: str) -> dict[str, Any]:
    removed = ctx.store.delete_setting(id)
    if removed is None:
        raise AdminNotFound(f"No tenant setting found with id: {id}")
    return {"removed": removed.id}


# ------------------------------------------------------------------------------------------ recordings
def recordings_add_to_tenant(ctx: AdminContext, tenant_id: str) -> dict[str, Any]:
    """Scalelite's `recordings:addToTenant`: every recording without a tenant (the `default` one: imported, or made
    before multitenancy) becomes the tenant's, with the `tenant-id` metadata its own recordings carry. One
    conditional transaction per recording (its state counters move with it); one changed meanwhile is skipped and
    reported, so the command can simply be run again."""
    _tenant(ctx, tenant_id)
    moved: list[str] = []
    skipped: list[str] = []
    batch: list[Any] = []
    cursor: str | None = None
    while True:  # read everything first: moving items out of the listing while paging through it skips some
        page = ctx.store.tenant_recordings(DEFAULT_TENANT, limit=100, cursor=cursor)
        batch.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            break
    for recording in batch:
        changed = dataclasses.replace(
            recording, tenant_id=tenant_id, metadata={**recording.metadata, "tenant-id": tenant_id}
        )
        try:
            ctx.store.save_recording(changed, previous=recording)
        except StoreConflict:
            skipped.append(recording.record_id)
            continue
        moved.append(recording.record_id)
    return {"tenant_id": tenant_id, "moved": moved, "skipped": skipped}
