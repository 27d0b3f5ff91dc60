"""One typed settings object, parsed once from the environment (never at import time).

Env var names are Scalelite's where the meaning is the same (see CONVENTIONS.md)."""

from __future__ import annotations

import math
import os
import re
import secrets as _secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from scalelite_common.values import parse_bool

DEFAULT_TENANT = "default"
ALGORITHM_STRENGTH = ("SHA512", "SHA384", "SHA256", "SHA1")
DEFAULT_PLAYBACK_FORMATS = ("presentation", "video", "screenshare", "podcast", "notes", "capture")
_FORMAT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return parse_bool(raw) is True  # junk reads as false, as before


def _num[T: (int, float)](env: Mapping[str, str], name: str, default: T, kind: type[T]) -> T:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return kind(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _list(env: Mapping[str, str], name: str, sep: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(sep) if part.strip())


def _delays(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Comma-separated seconds, each within SQS's visibility limit (12 h)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        delays = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a comma list of seconds, got {raw!r}") from None
    if not delays or any(d < 0 or d > 43_200 for d in delays):
        raise ConfigError(f"{name}: each delay must be between 0 and 43200 seconds")
    return delays


def _minutes(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive, finite number of minutes (fractions allowed, as Scalelite's `.to_f.minutes`)."""
    value = _num(env, name, default, float)
    if not math.isfinite(value) or value <= 0 or value > 525_600:
        raise ConfigError(f"{name} must be a number of minutes between 0 and 525600 (a year), got {value!r}")
    return value


def _formats(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Scalelite's colon list of playback format names (they become URL paths and S3 prefixes)."""
    if not env.get(name, "").strip():
        return DEFAULT_PLAYBACK_FORMATS
    formats = _list(env, name, ":")
    bad = [f for f in formats if not _FORMAT_NAME.fullmatch(f)]
    if bad or not formats:
        raise ConfigError(f"{name} must be a colon list of format names (a-z, 0-9, _ and -), got {bad or formats}")
    return tuple(dict.fromkeys(formats))


def parse_param_list(raw: str) -> dict[str, str]:
    """Scalelite's `p1=v1,p2=v2` format; split on the first `=` of each item."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        out[name.strip()] = value.strip()
    return out


@dataclass(frozen=True, eq=False)  # identity hash: a parsed Settings keys caches
class Settings:
    # Front-end authentication. In AWS the secret is not kept here but in Secrets Manager (loadbalancer_secret_arn):
    # read the accepted secrets through `accepted_secrets()`, never this field directly.
    loadbalancer_secrets: tuple[str, ...] = ()
    loadbalancer_secret_arn: str = ""
    secret_rotation_grace: float = 0.0  # seconds the AWSPREVIOUS value stays accepted after a rotation (0: never)
    checksum_algorithms: tuple[str, ...] = ("SHA1", "SHA256", "SHA384", "SHA512")
    checksum_algorithm_configured: bool = False
    build_number: str = ""
    url_host: str = ""
    multitenancy_enabled: bool = False  # the tenant is the DNS label in front of URL_HOST (services/context.py)
    # Placement and load
    load_min_user_count: int = 15
    load_join_buffer_time: float = 15.0  # minutes
    server_id_is_hostname: bool = False
    create_failover_attempts: int = 3
    # Health
    server_healthy_threshold: int = 1
    server_unhealthy_threshold: int = 2
    # Outbound HTTP to BBB
    connect_timeout: float = 5.0
    response_timeout: float = 10.0
    # Parameter shaping
    max_meeting_duration: int = 0
    create_exclude_params: tuple[str, ...] = ()
    join_exclude_params: tuple[str, ...] = ()
    default_create_params: Mapping[str, str] = field(default_factory=dict)
    override_create_params: Mapping[str, str] = field(default_factory=dict)
    default_join_params: Mapping[str, str] = field(default_factory=dict)
    override_join_params: Mapping[str, str] = field(default_factory=dict)
    voice_bridge_len: int = 9
    use_external_voice_bridge: bool = False
    # Meetings
    default_meeting_ttl: int = 86400  # seconds
    callback_data_ttl: int = 2592000  # seconds a meeting's callback URLs outlive its last create (30 days)
    get_meetings_api_disabled: bool = False
    # Poller
    poll_interval: float = 60.0
    poller_threads: int = 64
    poller_wait_timeout: float = 10.0
    # Recordings
    recording_disabled: bool = False
    recording_import_unpublished: bool = False
    protected_recordings_enabled: bool = False
    get_recordings_api_filtered: bool = False
    recording_import_max_members: int = 50_000
    recording_import_max_bytes: int = 10 * 1024**3
    recording_origin_ttl: int = 7_776_000  # seconds a meeting's origin is kept for its uploads (90 days)
    recording_upload_url_ttl: int = 3600  # seconds a presigned upload URL is valid
    recording_playback_formats: tuple[str, ...] = DEFAULT_PLAYBACK_FORMATS  # the formats the edge serves
    # Protected recordings (docs/playback.md): token and cookie lifetimes in minutes, the cookie's HMAC key
    protected_recordings_token_timeout: float = 60.0
    protected_recordings_timeout: float = 360.0
    playback_cookie_secret: str = ""
    playback_cookie_secret_arn: str = ""  # Secrets Manager; read on first use when PLAYBACK_COOKIE_SECRET is unset
    cloudfront_distribution_id: str = ""  # set: recording changes invalidate CloudFront's cached files
    cloudfront_distribution_id_parameter: str = ""  # else: the SSM parameter holding it (read on first use)
    # The X-Origin-Verify value CloudFront adds to API requests (template: OriginVerifySecret); unset: no check
    origin_verify_secret: str = ""
    origin_verify_secret_arn: str = ""
    callback_retry_delays: tuple[int, ...] = (30, 120, 600, 1800, 3600)
    callback_queue_url: str = ""
    # Admin JSON API (/scalelite/api), off by default
    admin_api_enabled: bool = False
    # AWS resources
    servers_table: str = "ServersTable"
    meetings_table: str = "MeetingsTable"
    voice_bridges_table: str = "VoiceBridgesTable"
    callbacks_table: str = "CallbacksTable"
    recordings_table: str = "RecordingsTable"
    uploads_table: str = "UploadsTable"
    tenants_table: str = "TenantsTable"
    spool_bucket: str = ""
    recordings_bucket: str = ""
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None

    @property
    def outbound_algorithm(self) -> str:
        """Scalelite signs backend calls with SHA256 unless the operator restricted the set; then the strongest."""
        if not self.checksum_algorithm_configured:
            return "SHA256"
        for algo in ALGORITHM_STRENGTH:
            if algo in self.checksum_algorithms:
                return algo
        return "SHA256"

    def accepted_secrets(self) -> tuple[str, ...]:
        """The front-end secrets: the plain ones (LOADBALANCER_SECRET[S]), else the Secrets Manager secret's current
        value, re-read at most every 5 minutes (`scalelite_common.secrets`), so a rotated secret takes effect without a
        redeploy or a cold start; its AWSPREVIOUS value is accepted too for SECRET_ROTATION_GRACE minutes after the
        rotation (default 0: the old one stops working within 5 minutes)."""
        if self.loadbalancer_secret_arn:
            current = _fetch_secret(self.loadbalancer_secret_arn)
            if self.secret_rotation_grace <= 0:
                return (current,)
            from scalelite_common.secrets import cache

            values = cache().values(self.loadbalancer_secret_arn, grace=self.secret_rotation_grace)
            return tuple(dict.fromkeys((current, *values)))
        return self.loadbalancer_secrets

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        secrets = [s for s in [env.get("LOADBALANCER_SECRET", "").strip()] if s]
        secrets += list(_list(env, "LOADBALANCER_SECRETS", ":"))
        secret_arn = "" if secrets else env.get("LOADBALANCER_SECRET_ARN", "").strip()
        if secret_arn:
            _fetch_secret(secret_arn)  # at init (before a SnapStart snapshot): fails fast, warms the 5-minute cache
        algos_raw = env.get("LOADBALANCER_CHECKSUM_ALGORITHM", "").strip()
        algos = tuple(a.upper().replace("-", "") for a in algos_raw.split(":") if a.strip()) if algos_raw else None
        unknown = [a for a in algos or () if a not in ALGORITHM_STRENGTH]
        if unknown:
            raise ConfigError(f"LOADBALANCER_CHECKSUM_ALGORITHM has unknown algorithms: {', '.join(unknown)}")
        return cls(
            loadbalancer_secrets=tuple(dict.fromkeys(secrets)),
            loadbalancer_secret_arn=secret_arn,
            secret_rotation_grace=_grace(env, "SECRET_ROTATION_GRACE"),
            checksum_algorithms=algos or cls.checksum_algorithms,
            checksum_algorithm_configured=algos is not None,
            build_number=env.get("BUILD_NUMBER", ""),
            url_host=env.get("URL_HOST", ""),
            multitenancy_enabled=_bool(env, "MULTITENANCY_ENABLED"),
            load_min_user_count=_num(env, "LOAD_MIN_USER_COUNT", 15, int),
            load_join_buffer_time=_num(env, "LOAD_JOIN_BUFFER_TIME", 15.0, float),
            server_id_is_hostname=_bool(env, "SERVER_ID_IS_HOSTNAME"),
            create_failover_attempts=max(1, _num(env, "CREATE_FAILOVER_ATTEMPTS", 3, int)),
            server_healthy_threshold=max(1, _num(env, "SERVER_HEALTHY_THRESHOLD", 1, int)),
            server_unhealthy_threshold=max(1, _num(env, "SERVER_UNHEALTHY_THRESHOLD", 2, int)),
            connect_timeout=_num(env, "CONNECT_TIMEOUT", 5.0, float),
            response_timeout=_num(env, "RESPONSE_TIMEOUT", 10.0, float),
            max_meeting_duration=_num(env, "MAX_MEETING_DURATION", 0, int),
            create_exclude_params=_list(env, "CREATE_EXCLUDE_PARAMS", ","),
            join_exclude_params=_list(env, "JOIN_EXCLUDE_PARAMS", ","),
            default_create_params=parse_param_list(env.get("DEFAULT_CREATE_PARAMS", "")),
            override_create_params=parse_param_list(env.get("OVERRIDE_CREATE_PARAMS", "")),
            default_join_params=parse_param_list(env.get("DEFAULT_JOIN_PARAMS", "")),
            override_join_params=parse_param_list(env.get("OVERRIDE_JOIN_PARAMS", "")),
            voice_bridge_len=min(max(_num(env, "VOICE_BRIDGE_LEN", 9, int), 5), 18),
            use_external_voice_bridge=_bool(env, "USE_EXTERNAL_VOICE_BRIDGE"),
            default_meeting_ttl=max(60, _num(env, "DEFAULT_MEETING_TTL", 86400, int)),
            callback_data_ttl=max(3600, _num(env, "CALLBACK_DATA_TTL", 2592000, int)),
            get_meetings_api_disabled=_bool(env, "GET_MEETINGS_API_DISABLED"),
            poll_interval=max(1.0, _num(env, "POLL_INTERVAL", 60.0, float)),
            poller_threads=max(1, _num(env, "POLLER_THREADS", 64, int)),
            poller_wait_timeout=_num(env, "POLLER_WAIT_TIMEOUT", 10.0, float),
            admin_api_enabled=_bool(env, "ADMIN_API_ENABLED"),
            recording_disabled=_bool(env, "RECORDING_DISABLED"),
            recording_import_unpublished=_bool(env, "RECORDING_IMPORT_UNPUBLISHED"),
            protected_recordings_enabled=_bool(env, "PROTECTED_RECORDINGS_ENABLED"),
            get_recordings_api_filtered=_bool(env, "GET_RECORDINGS_API_FILTERED"),
            recording_import_max_members=max(1, _num(env, "RECORDING_IMPORT_MAX_MEMBERS", 50_000, int)),
            recording_import_max_bytes=max(1, _num(env, "RECORDING_IMPORT_MAX_BYTES", 10 * 1024**3, int)),
            recording_origin_ttl=max(3600, _num(env, "RECORDING_ORIGIN_TTL", 7_776_000, int)),
            recording_upload_url_ttl=min(max(60, _num(env, "RECORDING_UPLOAD_URL_TTL", 3600, int)), 604_800),
            recording_playback_formats=_formats(env, "RECORDING_PLAYBACK_FORMATS"),
            protected_recordings_token_timeout=_minutes(env, "PROTECTED_RECORDINGS_TOKEN_TIMEOUT", 60.0),
            protected_recordings_timeout=_minutes(env, "PROTECTED_RECORDINGS_TIMEOUT", 360.0),
            playback_cookie_secret=env.get("PLAYBACK_COOKIE_SECRET", "").strip(),
            playback_cookie_secret_arn=env.get("PLAYBACK_COOKIE_SECRET_ARN", "").strip(),
            cloudfront_distribution_id=env.get("CLOUDFRONT_DISTRIBUTION_ID", "").strip(),
            cloudfront_distribution_id_parameter=env.get("CLOUDFRONT_DISTRIBUTION_ID_PARAMETER", "").strip(),
            origin_verify_secret=env.get("ORIGIN_VERIFY_SECRET", "").strip(),
            origin_verify_secret_arn=env.get("ORIGIN_VERIFY_SECRET_ARN", "").strip(),
            callback_retry_delays=_delays(env, "CALLBACK_RETRY_DELAYS", (30, 120, 600, 1800, 3600)),
            callback_queue_url=env.get("CALLBACK_QUEUE_URL", ""),
            servers_table=env.get("SERVERS_TABLE", "ServersTable"),
            meetings_table=env.get("MEETINGS_TABLE", "MeetingsTable"),
            voice_bridges_table=env.get("VOICE_BRIDGES_TABLE", "VoiceBridgesTable"),
            callbacks_table=env.get("CALLBACKS_TABLE", "CallbacksTable"),
            recordings_table=env.get("RECORDINGS_TABLE", "RecordingsTable"),
            uploads_table=env.get("UPLOADS_TABLE", "UploadsTable"),
            tenants_table=env.get("TENANTS_TABLE", "TenantsTable"),
            spool_bucket=env.get("SPOOL_BUCKET", ""),
            recordings_bucket=env.get("RECORDINGS_BUCKET", ""),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
        )


def _grace(env: Mapping[str, str], name: str) -> float:
    """Minutes (default 0 = never) → seconds."""
    value = _num(env, name, 0.0, float)
    if not math.isfinite(value) or value < 0 or value > 525_600:
        raise ConfigError(f"{name} must be a number of minutes between 0 and 525600 (a year), got {value!r}")
    return value * 60


def _fetch_secret(arn: str) -> str:
    """A Secrets Manager secret's current value (the LB secret, the playback cookie key, the origin header), re-read
    at most every 5 minutes (`scalelite_common.secrets`): a rotation needs no redeploy."""
    from scalelite_common.secrets import cache

    return cache().current(arn)


def playback_cookie_key(settings: Settings) -> bytes:
    """The playback cookie's HMAC key (also the token's JWT key): PLAYBACK_COOKIE_SECRET, else the Secrets Manager
    secret PLAYBACK_COOKIE_SECRET_ARN names, fetched on first use and re-read every 5 minutes (`scalelite_common.
    secrets`), not when settings are parsed: only the calls that sign or check a cookie need it."""
    secret = settings.playback_cookie_secret or (
        _fetch_secret(settings.playback_cookie_secret_arn) if settings.playback_cookie_secret_arn else ""
    )
    if len(secret) < 32:
        raise ConfigError("PLAYBACK_COOKIE_SECRET (or the secret PLAYBACK_COOKIE_SECRET_ARN names) must be 32+ chars")
    return secret.encode()


def origin_verify_value(settings: Settings) -> str:
    """The header value requests must carry to reach the API (empty: no check). Fetched per request through
    `scalelite_common.secrets`' 5-minute cache, so a rotated value is picked up without a redeploy of the function."""
    if settings.origin_verify_secret:
        return settings.origin_verify_secret
    return _fetch_secret(settings.origin_verify_secret_arn) if settings.origin_verify_secret_arn else ""


@cache
def get_settings() -> Settings:
    return Settings.from_env()


def generate_secret() -> str:
    """A BBB-style shared secret (used by the local stack when none is configured)."""
    return _secrets.token_hex(20)
