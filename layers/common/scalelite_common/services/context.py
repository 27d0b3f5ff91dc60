"""The per-request context: who is calling, resolved once per BBB API request and passed to the services in place
of the global settings, so multitenancy changes how it is resolved, not every call."""

from __future__ import annotations

from dataclasses import dataclass

from scalelite_common.config import DEFAULT_TENANT, Settings


@dataclass(frozen=True)
class RequestContext:
    tenant_id: str
    secrets: tuple[str, ...]  # any of these signs a valid request
    settings: Settings  # the effective settings for this request (create/join parameter rules, limits)
    base_url: str = ""  # scheme://host the LMS called: the prefix of the URLs the balancer hands out

    @property
    def metadata_tenant(self) -> str | None:
        """The `tenant-id` metadata this tenant's meetings carry on BBB (none for the default tenant)."""
        return None if self.tenant_id == DEFAULT_TENANT else self.tenant_id


def resolve(settings: Settings, host: str | None = None, scheme: str = "https") -> RequestContext:
    """The context of a BBB API request made to `host`. Without multitenancy every request belongs to the default
    tenant and is signed with the load balancer's secrets, whatever the host. URLs handed out (getRecordings) start
    with `https://URL_HOST` when it is set (behind CloudFront the request's own host is the API's origin), else
    with the request's scheme and host."""
    base_url = f"https://{settings.url_host}" if settings.url_host else f"{scheme}://{host}" if host else ""
    return RequestContext(
        tenant_id=DEFAULT_TENANT, secrets=settings.loadbalancer_secrets, settings=settings, base_url=base_url
    )
