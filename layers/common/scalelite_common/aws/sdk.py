"""The AWS SDK's cold-start work, moved to init.

botocore parses its JSON data (a service's model and endpoint rules, the partitions, the SDK defaults) and lists
its data folders once per *session*, and every PynamoDB connection and thread has a session of its own: without
this module each first use pays ≈ 0.1 s of CPU for files that never change. `preload` parses them once, at import,
into a cache every session of the process shares (static files of the botocore package: no environment, no AWS).

`prime_default_session` goes one step further and builds boto3's default session (≈ 20 ms of event-handler
registration): botocore reads `AWS_EXECUTION_ENV`, `AWS_DATA_PATH` and the AWS config file there, so it is for
Lambda's init only (`scalelite_common.lifecycle.in_lambda`), where they are fixed for the container's life. Neither
creates a client, resolves credentials or opens a connection; the default session resolves them with its first
client, so `forget_default_session` drops it after a SnapStart restore.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.loaders
import botocore.session

# Read by every client at creation, whatever its service.
_COMMON_DATA = ("endpoints", "partitions", "sdk-default-configuration")
_cache: dict[Any, Any] = {}  # botocore's `instance_cache` keys: (method, *args), independent of the search paths
_lock = threading.Lock()
_original_create_loader = botocore.session.create_loader


class SharedCacheLoader(botocore.loaders.Loader):
    """botocore's Loader, with the process's one cache (`instance_cache` requires the `_cache` dict; botocore
    ignores its constructor's `cache` argument). Parsed data is already shared by all the clients of a session,
    which botocore treats as read-only; here it is shared by all sessions too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache = _cache


def _create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    if search_path_string:  # AWS_DATA_PATH set: models of its own, botocore's own loader
        return _original_create_loader(search_path_string)
    return SharedCacheLoader()


def preload(*services: str) -> None:
    """Parse `services`' models and the data every client reads, once for every botocore session of the process
    (sessions made before this call keep their own loader). Idempotent."""
    with _lock:
        botocore.session.create_loader = _create_loader  # what a session's lazy "data_loader" component calls
        loader = SharedCacheLoader()
        for name in _COMMON_DATA:
            loader.load_data(name)
        loader.list_available_services("service-2")  # the data folders' listing, ≈ 1,800 directories
        for service in services:
            loader.load_service_model(service, "service-2")
            loader.load_service_model(service, "endpoint-rule-set-1")


def prime_default_session() -> None:
    """boto3's default session (what `boto3.client(...)` uses), built now rather than by the first client. Reads
    the SDK's own configuration (see the module's docstring): Lambda init only."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()


def forget_default_session() -> None:
    """Drop boto3's default session (after a SnapStart restore: one primed at init holds the credentials it
    resolved then); the next `boto3.client(...)` builds another."""
    import boto3

    boto3.DEFAULT_SESSION = None


def shared_entries() -> int:
    """How many parsed files the shared cache holds (tests, benches)."""
    return len(_cache)
