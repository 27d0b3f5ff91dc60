"""The per-request context: who is calling, resolved once per BBB API request and passed to the services in place
of the global settings, so multitenancy changes how it is resolved, not every call."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scalelite_common.config import DEFAULT_TENANT, Settings
from scalelite_common.domain.tenants import ParamRules, tenant_label

if TYPE_CHECKING:
    from scalelite_common.services.tenants import TenantDirectory

# The tenant of a request whose host names no tenant (multitenancy): it has no secrets, so every checksum fails, and
# no tenant id contains "#", so it owns nothing.
UNRESOLVED_TENANT = "#unresolved"


@dataclass(frozen=True)
class RequestContext:
    tenant_id: str
    secrets: tuple[str, ...]  # any of these signs a valid request
    settings: Settings  # the effective settings for this request (create/join parameter rules, limits)
    base_url: str = ""  # scheme://host the LMS called: the prefix of the URLs the balancer hands out
    tenant_name: str = ""  # multitenancy: the tenant's name (its host label); "" for the default tenant
    rules: ParamRules | None = None  # the tenant's caps and appends (its defaults/overrides are in `settings`)
    max_meetings: int = 0  # the tenant's limits (multitenancy); 0 = unlimited
    max_attendees: int = 0

    @property
    def metadata_tenant(self) -> str | None:
        """The `tenant-id` metadata this tenant's meetings carry on BBB (none for the default tenant)."""
        return None if self.tenant_id == DEFAULT_TENANT else self.tenant_id


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?")


def viewer_host(forwarded: str | None) -> str | None:
    """The first host of an X-Forwarded-Host header, when it is a plain `host[:port]` (anything else is ignored)."""
    first = (forwarded or "").split(",")[0].strip()
    return first if first and _HOST.fullmatch(first) else None


def resolve(
    settings: Settings, host: str | None = None, scheme: str = "https", *, tenants: TenantDirectory | None = None
) -> RequestContext:
    """The context of a BBB API request made to `host` (the viewer's: X-Forwarded-Host when present, else Host).
    Without multitenancy every request belongs to the default tenant and is signed with the load balancer's secrets,
    whatever the host. URLs handed out (getRecordings, the playback redirects) start with `https://URL_HOST` when it
    is set, else with the request's scheme and host.

    With MULTITENANCY_ENABLED (`tenants` is then the cached directory), the tenant is the single DNS label in front
    of URL_HOST in `host` and only its secrets sign its requests; a host that names no known tenant (the bare
    URL_HOST, an IP, another domain, an empty host) gets a context no checksum matches, as in Scalelite. Its URLs
    start with `https://<tenant>.URL_HOST`."""
    if settings.multitenancy_enabled:
        return _resolve_tenant(settings, host, tenants)
    base_url = f"https://{settings.url_host}" if settings.url_host else f"{scheme}://{host}" if host else ""
    return RequestContext(
        tenant_id=DEFAULT_TENANT, secrets=settings.accepted_secrets(), settings=settings, base_url=base_url
    )


def _resolve_tenant(settings: Settings, host: str | None, tenants: TenantDirectory | None) -> RequestContext:
    name = tenant_label(host, settings.url_host)
    tenant = tenants.by_name(name) if name is not None and tenants is not None else None
    if tenant is None:
        return RequestContext(tenant_id=UNRESOLVED_TENANT, secrets=(), settings=settings)
    found = tenants.settings(tenant.id) if tenants is not None else ()
    rules = ParamRules.of(found) if found else None
    if rules is not None and (rules.defaults or rules.overrides):
        # Scalelite §6.1: one list for create and join; a tenant default beats the global default (the request still
        # wins), a tenant override beats the request and the global override.
        settings = dataclasses.replace(
            settings,
            default_create_params={**settings.default_create_params, **rules.defaults},
            override_create_params={**settings.override_create_params, **rules.overrides},
            default_join_params={**settings.default_join_params, **rules.defaults},
            override_join_params={**settings.override_join_params, **rules.overrides},
        )
    return RequestContext(
        tenant_id=tenant.id,
        secrets=tenant.secrets,
        settings=settings,
        base_url=f"https://{tenant.name}.{settings.url_host}",
        tenant_name=tenant.name,
        rules=rules,
        max_meetings=tenant.max_meetings,
        max_attendees=tenant.max_attendees,
    )
