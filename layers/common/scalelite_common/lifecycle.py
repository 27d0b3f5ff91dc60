"""Lambda SnapStart: what must not survive a snapshot. A restored execution environment is a copy of the one
that ran init, possibly days later and many times over: the random generator's state would be the same in every
copy, cached secrets and settings as old as the snapshot, pooled connections dead. `refresh_after_restore`
re-seeds, drops the cached secrets, settings and container (with their boto3 clients and HTTP pools) and boto3's
default session (with the credentials it resolved); the next request, or `prime_clients`, builds them again.

The hook is registered through the Lambda Python runtime's `snapshot_restore_py` (present in the managed runtime,
absent locally: `register_restore_hooks` is then a no-op that says so).

The other half is init doing a first request's work: `prime_first_request` (static: imports, botocore's parsed data;
in the snapshot too) and, inside Lambda only, `prime_clients` (settings, secrets, clients; again after a restore)."""

from __future__ import annotations

import os
import random

from scalelite_common.observability import logger


def refresh_after_restore() -> None:
    from scalelite_common import secrets
    from scalelite_common.aws import sdk
    from scalelite_common.services import wiring

    random.seed()  # from os.urandom: each restored copy draws its own numbers
    secrets.cache().clear()
    wiring.reset_all()
    sdk.forget_default_session()  # primed at init, it holds the snapshot's credentials
    logger.info("restored from a SnapStart snapshot: secrets, settings and clients dropped")


def register_restore_hooks(*, prime: bool = False) -> bool:
    """Register `refresh_after_restore` as an after-restore hook, then `prime_clients` with `prime` (the runtime
    runs after-restore hooks in registration order); False where the runtime has no SnapStart."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    register_after_restore(refresh_after_restore)
    if prime:
        register_after_restore(prime_clients)
    return True


def in_lambda() -> bool:
    """Inside a Lambda execution environment (its runtime sets AWS_LAMBDA_FUNCTION_NAME; tests and the local stack
    do not). Read at import only to decide whether to prime: it configures nothing."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def prime_first_request(*services: str) -> None:
    """Init's share of the first request that is static, so allowed at import anywhere: the adapters' modules
    (PynamoDB, boto3, the secrets cache) imported and botocore's data for `services` parsed
    (`scalelite_common.aws.sdk.preload`). No environment, settings, secrets, clients or connections: those are
    `prime_clients`' (Lambda only)."""
    import boto3  # noqa: F401

    from scalelite_common import secrets  # noqa: F401
    from scalelite_common.aws import sdk
    from scalelite_common.db import repositories  # noqa: F401  (PynamoDB and the models)

    sdk.preload(*services)


def prime_clients() -> None:
    """Lambda only, at init and again after a SnapStart restore (after `refresh_after_restore`): the settings parsed,
    the secrets read (Secrets Manager), boto3's default session and the store's DynamoDB client built, so the first
    request finds them (≈ 60 ms of CPU otherwise, `make bench`). It reads the environment and calls AWS: never at
    import elsewhere, where tests and the local stack change both after import. A failure is only logged: the first
    request then does the work itself, and answers the error as it would have."""
    from scalelite_common.aws import sdk
    from scalelite_common.config import get_settings, origin_verify_value
    from scalelite_common.db.repositories import DynamoStore
    from scalelite_common.services import wiring

    try:
        sdk.prime_default_session()
        settings = get_settings()  # reads the LB secret when LOADBALANCER_SECRET_ARN is set
        origin_verify_value(settings)
        container = wiring.container(settings)
        _ = container.meeting_service
        if isinstance(container.store, DynamoStore):
            container.store.connect()
    except Exception as exc:
        logger.warning("priming at init failed; the first request will retry", error=type(exc).__name__)
