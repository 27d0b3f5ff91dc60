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
    from scalelite_common.services.callbacks import CallbackDelivery
    from scalelite_common.services.importer import RecordingImporter
    from scalelite_common.services.meetings import MeetingService
    from scalelite_common.services.polling import Poller
    from scalelite_common.services.ports import Notifier, ObjectStore, Store
    from scalelite_common.services.recordings import RecordingService
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
    def meeting_service(self) -> MeetingService:
        from scalelite_common.services.meetings import MeetingService

        return MeetingService(self.store, self.bbb, self.settings)

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

        return RecordingService(self.store, self.objects, self.settings.recordings_bucket)

    @cached_property
    def importer(self) -> RecordingImporter:
        from scalelite_common.services.importer import RecordingImporter

        return RecordingImporter(self.store, self.objects, self.notifier, self.settings)

    @cached_property
    def callbacks(self) -> CallbackDelivery:
        """Recording-ready callbacks from the callback queue to the LMSs (CallbackFunction)."""
        from scalelite_common.aws.sqs import SqsRetryQueue
        from scalelite_common.callbacks_http import UrllibPoster
        from scalelite_common.services.callbacks import CallbackDelivery

        s = self.settings
        queue = SqsRetryQueue(region=s.aws_region, endpoint_url=s.aws_endpoint_url)
        return CallbackDelivery(UrllibPoster(), s, queue)

    @cached_property
    def admin_context(self) -> AdminContext:
        from scalelite_common.services.admin.context import AdminContext

        return AdminContext(store=self.store, client=self.bbb, settings=self.settings, objects=self.objects)


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
    get_settings.cache_clear()
    _container.cache_clear()
