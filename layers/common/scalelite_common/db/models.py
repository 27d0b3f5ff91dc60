"""PynamoDB items. Table names, region and endpoint are bound at runtime by `bind()`, never at import."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import TableError, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model


def cancelled_by_condition(exc: TransactWriteError) -> list[bool]:
    """For each item of a cancelled transaction, in the order PynamoDB sent them (condition checks, deletes, puts,
    updates): whether its condition failed. Empty when the transaction was not cancelled by DynamoDB."""
    return [r is not None and r.code == "ConditionalCheckFailed" for r in exc.cancellation_reasons]


class ServerItem(Model):
    class Meta:
        table_name = "ServersTable"
        region = "us-east-1"

    id = UnicodeAttribute(hash_key=True)
    url = UnicodeAttribute()
    secret = UnicodeAttribute()
    state = UnicodeAttribute(default="disabled")
    online = BooleanAttribute(default=False)
    load = NumberAttribute(null=True)
    load_adjust = NumberAttribute(default=0)
    load_multiplier = NumberAttribute(default=1)
    tag = UnicodeAttribute(null=True)
    healthy_counter = NumberAttribute(default=0)
    unhealthy_counter = NumberAttribute(default=0)
    meetings = NumberAttribute(default=0)
    users = NumberAttribute(default=0)
    largest_meeting = NumberAttribute(default=0)
    videos = NumberAttribute(default=0)
    bbb_version = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)  # absent while the polls succeed


class ServerIndex(GlobalSecondaryIndex["MeetingItem"]):
    class Meta:
        index_name = "server-index"
        projection = AllProjection()

    server_id = UnicodeAttribute(hash_key=True)


class TenantMeetingsIndex(GlobalSecondaryIndex["MeetingItem"]):
    """Sparse: only meetings of a tenant other than the default one (multitenancy), for the tenant limits. Only
    what the count needs is projected, so lock and touch writes do not reach the index."""

    class Meta:
        index_name = "tenant-index"
        projection = IncludeProjection(["meeting_id", "expires_at", "joins", "participants", "polled_joins"])

    scoped_tenant = UnicodeAttribute(hash_key=True)


class MeetingItem(Model):
    class Meta:
        table_name = "MeetingsTable"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)  # "<tenant_id>#<meetingID>": the tenant is part of the key
    tenant_id = UnicodeAttribute()
    meeting_id = UnicodeAttribute()
    server_id = UnicodeAttribute()
    moderator_pw = UnicodeAttribute(null=True)
    voice_bridge = UnicodeAttribute(null=True)
    created_at = NumberAttribute(default=0)
    expires_at = NumberAttribute(default=0)
    reservation = NumberAttribute(default=0)
    reserved_users = NumberAttribute(default=0)
    load_multiplier = NumberAttribute(default=1)
    joins = NumberAttribute(default=0)
    lock_owner = UnicodeAttribute(null=True)  # absent while nobody holds the meeting (create/end in flight)
    lock_until = NumberAttribute(null=True)
    touched_at = NumberAttribute(null=True)
    participants = NumberAttribute(null=True)  # as last polled (tenant meetings only)
    polled_joins = NumberAttribute(null=True)  # `joins` when they were polled
    scoped_tenant = UnicodeAttribute(null=True)  # tenant_id, except for the default tenant (tenant-index key)
    internal_meeting_id = UnicodeAttribute(null=True)  # whose recording origin is stored (set on unlock)
    server_index = ServerIndex()
    tenant_index = TenantMeetingsIndex()


class VoiceBridgeItem(Model):
    class Meta:
        table_name = "VoiceBridgesTable"
        region = "us-east-1"

    voice_bridge = UnicodeAttribute(hash_key=True)
    meeting_pk = UnicodeAttribute()
    expires_at = NumberAttribute(default=0)


class CallbackItem(Model):
    class Meta:
        table_name = "CallbacksTable"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)  # "<tenant_id>#<meetingID>", as MeetingItem
    tenant_id = UnicodeAttribute()
    meeting_id = UnicodeAttribute()
    recording_ready_url = UnicodeAttribute(null=True)
    analytics_callback_url = UnicodeAttribute(null=True)
    created_at = NumberAttribute(default=0)
    expires_at = NumberAttribute(default=0)


class MeetingRecordingsIndex(GlobalSecondaryIndex["RecordingItem"]):
    class Meta:
        index_name = "meeting-index"
        projection = AllProjection()

    tenant_meeting = UnicodeAttribute(hash_key=True)
    start_time = NumberAttribute(range_key=True)


class TenantListingIndex(GlobalSecondaryIndex["RecordingItem"]):
    class Meta:
        index_name = "tenant-index"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    listing_key = UnicodeAttribute(range_key=True)


class TenantRecordIndex(GlobalSecondaryIndex["RecordingItem"]):
    class Meta:
        index_name = "tenant-record-index"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    record_id = UnicodeAttribute(range_key=True)


class RecordingItem(Model):
    """One recording. Index attributes are plain; the nested parts (formats, metadata, what the API changed) are
    JSON documents, read and written whole with the item."""

    class Meta:
        table_name = "RecordingsTable"
        region = "us-east-1"

    record_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(null=True)  # absent on counter items, so they stay out of the indexes
    tenant_meeting = UnicodeAttribute(null=True)  # "<tenant_id>#<meetingID>"
    listing_key = UnicodeAttribute(null=True)  # "<start_time, 15 digits>#<record_id>": newest first, stable
    start_time = NumberAttribute(null=True)
    meeting_id = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)
    published = BooleanAttribute(null=True)
    doc = JSONAttribute(null=True)  # every other Recording field
    version = NumberAttribute(default=0)
    meeting_index = MeetingRecordingsIndex()
    tenant_index = TenantListingIndex()
    tenant_record_index = TenantRecordIndex()


class RecordingCountsItem(Model):
    """Per tenant, how many recordings are in each state (getRecordings' totalElements without a count query).
    Lives in RecordingsTable under the key `#counts#<tenant_id>` (a recordID never starts with `#`)."""

    class Meta:
        table_name = "RecordingsTable"
        region = "us-east-1"

    record_id = UnicodeAttribute(hash_key=True)
    processing = NumberAttribute(default=0)
    processed = NumberAttribute(default=0)
    published = NumberAttribute(default=0)
    unpublished = NumberAttribute(default=0)
    deleted = NumberAttribute(default=0)


class UploadItem(Model):
    """UploadsTable: short-lived upload bookkeeping, each kind under its own key prefix, all with a TTL:
    `origin#<internal meeting id>` (where a meeting ran, written at create), `jti#<token id>` (a used upload
    token: replay guard), `pending#<server id>` / `<record id>#<spool key>` (an upload URL handed out and not
    imported yet), `attempt#<spool key>` (import attempts the sweep counted)."""

    class Meta:
        table_name = "UploadsTable"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute(null=True)
    meeting_id = UnicodeAttribute(null=True)
    server_id = UnicodeAttribute(null=True)
    record_id = UnicodeAttribute(null=True)
    attempts = NumberAttribute(null=True)  # `attempt#<spool key>`: the sweep's import attempts
    created_at = NumberAttribute(default=0)
    expires_at = NumberAttribute(default=0)


class TenantItem(Model):
    """TenantsTable, each kind under its own partition: `tenant` / `<tenant id>` (a tenant), `name` / `<name>` (the
    claim that keeps names unique: `tenant_id` names its holder), `setting` / `<setting id>` (a tenant setting)."""

    class Meta:
        table_name = "TenantsTable"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    secrets = UnicodeAttribute(null=True)  # colon-separated, as Scalelite stores them
    max_meetings = NumberAttribute(null=True)
    max_attendees = NumberAttribute(null=True)
    param = UnicodeAttribute(null=True)
    value = UnicodeAttribute(null=True)
    mode = UnicodeAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (
    ServerItem,
    MeetingItem,
    VoiceBridgeItem,
    CallbackItem,
    RecordingItem,
    RecordingCountsItem,
    UploadItem,
    TenantItem,
)


def bind(
    *,
    servers_table: str,
    meetings_table: str,
    voice_bridges_table: str,
    callbacks_table: str,
    recordings_table: str,
    uploads_table: str,
    region: str,
    tenants_table: str = "TenantsTable",
    host: str | None,
    max_pool_connections: int = 10,
) -> None:
    """Point the models at the physical tables of this stack (moto locally, AWS in Lambda). `max_pool_connections`
    is per model: the poller writes from POLLER_THREADS threads at once, and a pool smaller than that discards
    connections (a new TLS handshake for every write beyond it)."""
    for model, name in (
        (ServerItem, servers_table),
        (MeetingItem, meetings_table),
        (VoiceBridgeItem, voice_bridges_table),
        (CallbackItem, callbacks_table),
        (RecordingItem, recordings_table),
        (RecordingCountsItem, recordings_table),
        (UploadItem, uploads_table),
        (TenantItem, tenants_table),
    ):
        model.Meta.table_name = name
        model.Meta.region = region
        # Meta classes declare neither until bound.
        setattr(model.Meta, "host", host)  # noqa: B010
        setattr(model.Meta, "max_pool_connections", max_pool_connections)  # noqa: B010
        model._connection = None  # drop a connection made for another table/endpoint


def share_connection(connection: Connection) -> None:
    """Put the bound models on one PynamoDB `Connection` (the store's): one botocore session, client and HTTP pool
    for every table, where each model would make its own on first use (≈ 30 ms of CPU each: `make bench`,
    bench_coldstart). A model whose table already has another schema on `connection` keeps a connection of its own."""
    for model in ALL_MODELS:
        table = model._get_connection()  # the model's TableConnection and schema; no session or client yet
        meta = table.connection.get_meta_table(table.table_name)
        try:
            shared = connection.get_meta_table(table.table_name)
        except TableError:
            connection.add_meta_table(meta)
            shared = meta
        if shared.data == meta.data:
            table.connection = connection


def create_tables(wait: bool = False) -> None:
    """Create the bound tables from the models (moto tests, benches). The local stack creates them from
    template.yaml instead."""
    for model in ALL_MODELS:  # a model sharing a table created before it finds it existing
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=wait)
