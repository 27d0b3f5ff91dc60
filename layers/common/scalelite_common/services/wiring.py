"""The composition root: builds every adapter and service from one `Settings`, each once per container (warm
Lambdas reuse pools and connections). Handlers and FastAPI dependencies get what they need from here; nothing
else constructs an adapter. Adapters load on first use (PynamoDB is imported only when a store is needed), so
a function's cold start pays only for what it uses.
"""

from __future__ import annotations

from functools import cache, cached_property
from typing import TYPE_CHECKING

from scalelite_common.bbb.client import BBBClient
from scalelite_common.config import Settings, get_settings

if TYPE_CHECKING:
    from scalelite_common.services.admin.context import AdminContext
    from scalelite_common.services.analytics import AnalyticsRelay
    from scalelite_common.services.callbacks import CallbackDelivery
    from scalelite_common.services.importer import RecordingImporter
    from scalelite_common.services.meetings import MeetingService
    from scalelite_common.services.playback import PlaybackService
    from scalelite_common.services.polling import Poller
    from scalelite_common.services.ports import EdgeCache, Notifier, ObjectStore, PlayerSource, Store
    from scalelite_common.services.recordings import RecordingService
    from scalelite_common.services.tenants import TenantDirectory
    from scalelite_common.services.uploads import UploadService


class Container:
    """The adapters and services of one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        from scalelite_common.db.repositories import DynamoStore

        return DynamoStore(self.settings)

    @cached_property
    def bbb(self) -> BBBClient:
        s = self.settings
        return BBBClient(
            connect_timeout=s.connect_timeout, response_timeout=s.response_timeout, algorithm=s.outbound_algorithm
        )

    @cached_property
    def objects(self) -> ObjectStore:
        from scalelite_common.aws.s3 import S3ObjectStore

        return S3ObjectStore(region=self.settings.aws_region, endpoint_url=self.settings.aws_endpoint_url)

    @cached_property
    def notifier(self) -> Notifier | None:
        """The callback queue; None where none is configured (CALLBACK_QUEUE_URL unset: callbacks are not sent)."""
        if not self.settings.callback_queue_url:
            return None
        from scalelite_common.aws.sqs import SqsNotifier

        s = self.settings
        return SqsNotifier(s.callback_queue_url, region=s.aws_region, endpoint_url=s.aws_endpoint_url)

    @cached_property
    def edge(self) -> EdgeCache:
        """CloudFront's cache of the recording files (CLOUDFRONT_DISTRIBUTION_ID, or the SSM parameter holding it,
        in AWS); a no-op where nothing caches them (the local stack)."""
        from scalelite_common.aws.cloudfront import CloudFrontEdgeCache, NoEdgeCache, ssm_parameter

        s = self.settings
        if s.cloudfront_distribution_id:
            return CloudFrontEdgeCache(
                s.cloudfront_distribution_id, region=s.aws_region, endpoint_url=s.aws_endpoint_url
            )
        if s.cloudfront_distribution_id_parameter:
            read = ssm_parameter(
                s.cloudfront_distribution_id_parameter, region=s.aws_region, endpoint_url=s.aws_endpoint_url
            )
            return CloudFrontEdgeCache(read, region=s.aws_region, endpoint_url=s.aws_endpoint_url)
        return NoEdgeCache()

    @cached_property
    def playback(self) -> PlaybackService:
        """Protected recordings' tokens and cookies (the key is read on first use)."""
        from scalelite_common.config import playback_cookie_key
        from scalelite_common.services.playback import PlaybackService

        return PlaybackService(self.store, self.settings, lambda: playback_cookie_key(self.settings))

    @cached_property
    def meeting_service(self) -> MeetingService:
        from scalelite_common.services.meetings import MeetingService

        return MeetingService(self.store, self.bbb, self.settings)

    @cached_property
    def tenant_directory(self) -> TenantDirectory:
        """Tenant lookups of request resolution (multitenancy), cached per process for at most 10 s."""
        from scalelite_common.services.tenants import TenantDirectory

        return TenantDirectory(self.store)

    @cached_property
    def poller(self) -> Poller:
        from scalelite_common.services.polling import Poller

        return Poller(self.store, self.bbb, self.settings)

    @cached_property
    def uploads(self) -> UploadService:
        from scalelite_common.services.uploads import UploadService

        return UploadService(self.store, self.objects, self.settings)

    @cached_property
    def recordings(self) -> RecordingService:
        from scalelite_common.services.recordings import RecordingService

        s = self.settings
        return RecordingService(
            self.store,
            self.objects,
            s.recordings_bucket,
            protection_enabled=s.protected_recordings_enabled,
            edge=self.edge,
        )

    @cached_property
    def importer(self) -> RecordingImporter:
        from scalelite_common.services.importer import RecordingImporter

        return RecordingImporter(self.store, self.objects, self.notifier, self.settings, self.edge)

    @cached_property
    def analytics(self) -> AnalyticsRelay:
        """BBB's analytics callbacks, verified and queued for the LMS (API function)."""
        from scalelite_common.services.analytics import AnalyticsRelay

        return AnalyticsRelay(self.store, self.notifier, self.settings)

    @cached_property
    def callbacks(self) -> CallbackDelivery:
        """Recording-ready and analytics callbacks from the callback queue to the LMSs (CallbackFunction)."""
        from scalelite_common.aws.sqs import SqsRetryQueue
        from scalelite_common.callbacks_http import UrllibPoster
        from scalelite_common.services.callbacks import CallbackDelivery

        s = self.settings
        queue = SqsRetryQueue(region=s.aws_region, endpoint_url=s.aws_endpoint_url)
        return CallbackDelivery(UrllibPoster(), s, queue, tenants=self.store if s.multitenancy_enabled else None)

    @cached_property
    def admin_context(self) -> AdminContext:
        from scalelite_common.services.admin.context import AdminContext

        return AdminContext(
            store=self.store,
            client=self.bbb,
            settings=self.settings,
            objects=self.objects,
            edge=self.edge,
            player=self.player_source,
        )

    @cached_property
    def player_source(self) -> PlayerSource:
        """GETs of a BBB server's player files (`playback install --from-server`), with the BBB timeouts."""
        from scalelite_common.bbb.player import HttpPlayerSource

        s = self.settings
        return HttpPlayerSource(connect_timeout=s.connect_timeout, response_timeout=s.response_timeout)


@cache
def _container(settings: Settings) -> Container:
    return Container(settings)


def container(settings: Settings | None = None) -> Container:
    """The container for `settings` (default: the environment's, parsed once)."""
    return _container(settings or get_settings())


def bbb_client(settings: Settings | None = None) -> BBBClient:
    return container(settings).bbb


def store(settings: Settings | None = None) -> Store:
    return container(settings).store


def meeting_service(settings: Settings | None = None) -> MeetingService:
    return container(settings).meeting_service


def admin_context(settings: Settings | None = None) -> AdminContext:
    """What the admin commands run with (the AdminFunction and the admin JSON API)."""
    return container(settings).admin_context


def reset_all() -> None:
    """Re-read settings from the environment and rebuild every adapter and service (tests, benches, local stack)."""
    from scalelite_common import secrets

    get_settings.cache_clear()
    _container.cache_clear()
    secrets.cache().clear()
