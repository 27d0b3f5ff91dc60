"""The whole local stack, startable in-process on any ports (tests use ephemeral ones): `LocalStack(config)
.start()` … `.stop()`."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalelite_local.aws import MotoServer, client, create_queues, create_resources
from scalelite_local.cloudfront import NodeFunctions
from scalelite_local.edge import Edge, EdgeServer, distribution
from scalelite_local.gateway import ROUTES, GatewayServer, Route
from scalelite_local.invoker import MAX_CONCURRENCY, Invoker
from scalelite_local.lambda_api import LambdaApiServer
from scalelite_local.memory import return_large_buffers
from scalelite_local.scheduler import BucketNotifier, QueuePoller, Schedule
from scalelite_local.template import REGION, TEMPLATE, Handler, Template, load, rate_seconds

HOST = "127.0.0.1"
_running: LocalStack | None = None
_running_lock = threading.Lock()
POLLER = "PollerFunction"  # its schedule runs every POLL_INTERVAL seconds (see docs/local-stack.md)


@dataclass
class Config:
    aws_port: int = 5000
    port: int = 8080
    lambda_port: int = 3001
    simulated_servers: int = 2
    poll_interval: float | None = None  # None: $POLL_INTERVAL, else the template's default
    secret: str | None = None  # None: $LOADBALANCER_SECRET, else a generated one
    playback_cookie_secret: str | None = None  # None: $PLAYBACK_COOKIE_SECRET, else a generated one
    template_path: Path = TEMPLATE
    overrides: Mapping[str, str] = field(default_factory=dict)  # function env that wins over everything (tests)
    handlers: Mapping[str, Handler] = field(default_factory=dict)  # stand-in handlers by function (tests)
    routes: Sequence[Route] = ROUTES
    notify_period: float = 1.0  # how often the S3 buckets are listed for new objects
    queue_period: float = 0.5  # how often the SQS event sources poll their queue (short polls)
    max_concurrency: int = MAX_CONCURRENCY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env

        def number(name: str, default: float | None) -> float | None:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SystemExit(f"scalelite-local: {name} must be a number, got {raw!r}") from None
            if value < 0:
                raise SystemExit(f"scalelite-local: {name} must not be negative, got {raw!r}")
            return value

        def port(name: str, default: int) -> int:
            value = int(number(name, default) or 0)
            if value > 65535:
                raise SystemExit(f"scalelite-local: {name} must be a port number, got {value}")
            return value

        poll = number("POLL_INTERVAL", None)
        if poll == 0:
            raise SystemExit("scalelite-local: POLL_INTERVAL must be positive")
        return cls(
            aws_port=port("SCALELITE_AWS_PORT", 5000),
            port=port("SCALELITE_PORT", 8080),
            lambda_port=port("SCALELITE_LAMBDA_PORT", 3001),
            simulated_servers=int(number("SIMULATED_SERVERS", 2) or 0),
            poll_interval=poll,
            secret=env.get("LOADBALANCER_SECRET") or None,
            playback_cookie_secret=env.get("PLAYBACK_COOKIE_SECRET") or None,
        )


class LocalStack:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.template = Template(load(self.config.template_path))
        self.moto: MotoServer | None = None
        self.invoker: Invoker | None = None
        self.gateway: GatewayServer | None = None  # on an internal port: viewers reach it through the edge
        self.edge: EdgeServer | None = None  # CloudFront: on `config.port`, in front of the gateway and the bucket
        self.node: NodeFunctions | None = None  # runs the edge's CloudFront Functions
        self.lambda_api: LambdaApiServer | None = None
        self.schedules: dict[str, Schedule] = {}
        self.notifiers: dict[str, BucketNotifier] = {}
        self.queue_pollers: dict[str, QueuePoller] = {}  # by function
        self.simulators: list[Any] = []
        self.servers: list[dict[str, Any]] = []
        self.secret = ""
        self.playback_cookie_secret = ""
        self.load_errors: dict[str, str] = {}
        self._saved_env: dict[str, str] | None = None

    # ----------------------------------------------------------------------------- urls
    @property
    def gateway_url(self) -> str:
        """The URL viewers and LMSs use: the edge (CloudFront), which routes to the gateway or the bucket."""
        assert self.edge is not None, "not started"
        return f"http://{HOST}:{self.edge.port}"

    @property
    def internal_gateway_url(self) -> str:
        """The API Gateway emulation itself, as CloudFront's API origin (bypasses the edge's rules)."""
        assert self.gateway is not None, "not started"
        return f"http://{HOST}:{self.gateway.port}"

    @property
    def api_url(self) -> str:
        return f"{self.gateway_url}/bigbluebutton/api/"

    @property
    def lambda_url(self) -> str:
        assert self.lambda_api is not None, "not started"
        return f"http://{HOST}:{self.lambda_api.port}"

    @property
    def aws_url(self) -> str:
        assert self.moto is not None, "not started"
        return self.moto.endpoint

    @property
    def urls(self) -> dict[str, str]:
        return {"api": self.api_url, "gateway": self.gateway_url, "lambda": self.lambda_url, "aws": self.aws_url}

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from scalelite_common.config import generate_secret

        global _running
        with _running_lock:
            if _running is not None:
                # moto's backends and os.environ are process-wide: a second stack would wipe the first's.
                raise RuntimeError("a LocalStack is already running in this process")
            _running = self
        cfg = self.config
        return_large_buffers()
        self._saved_env = dict(os.environ)
        self.moto = MotoServer(HOST, cfg.aws_port)
        self.moto.start()
        create_resources(self.template, self.moto.endpoint)
        # The queues' URLs are moto's: from now on `!Ref <queue>` resolves (CALLBACK_QUEUE_URL, outputs).
        self.template = dataclasses.replace(self.template, queue_urls=create_queues(self.template, self.moto.endpoint))
        self.secret = cfg.secret or os.environ.get("LOADBALANCER_SECRET") or generate_secret()
        self.playback_cookie_secret = (
            cfg.playback_cookie_secret or os.environ.get("PLAYBACK_COOKIE_SECRET") or _cookie_secret()
        )
        self._configure_environment()
        self.playback_cookie_secret = os.environ["PLAYBACK_COOKIE_SECRET"]  # what the functions got (overrides win)
        self.invoker = Invoker(self.template, cfg.max_concurrency, cfg.handlers)
        self.load_errors = self.invoker.preload()
        for name, error in self.load_errors.items():
            print(f"scalelite-local: warning: {name} cannot be loaded ({error}); invoking it fails", file=sys.stderr)
        self.gateway = GatewayServer((HOST, 0), self.invoker, cfg.routes)
        routing = distribution(self.template)
        if any(b.function is not None for b in routing.behaviours):
            self.node = NodeFunctions().start()  # FunctionError when node is missing: the edge cannot work
        edge = Edge(
            routing,
            api=(HOST, self.gateway.port),
            s3=client("s3", self.moto.endpoint),
            functions=self.node,
            cookie_secret=self.playback_cookie_secret,
        )
        self.edge = EdgeServer((HOST, cfg.port), edge)
        edge.domain = f"{HOST}:{self.edge.port}"
        # The edge's port is bound by now: its URLs are what a deployed stack's URL outputs would give.
        api_url = self.api_url.rstrip("/")
        outputs = self.template.outputs({"ApiUrl": api_url, "BigBlueButtonApiUrl": api_url})
        self.lambda_api = LambdaApiServer((HOST, cfg.lambda_port), self.invoker, outputs=outputs)
        self.gateway.start("local-gateway")
        self.edge.start("local-edge")
        self.lambda_api.start("local-lambda-api")
        self._start_simulators()
        self._start_schedules()
        self._start_notifiers()
        self._start_queue_pollers()

    def _configure_environment(self) -> None:
        """The functions run in this process: give them the environment AWS would (template Globals + the
        function's Environment, references resolved locally), pointed at moto. Variables already set in this
        process's environment win over the template (`POLL_INTERVAL=10 make run`)."""
        assert self.moto is not None
        env = os.environ
        for name in [n for n in env if n.startswith("AWS_ENDPOINT_URL_")] + [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "LOADBALANCER_SECRET_ARN",  # locally the secrets are plain env, never Secrets Manager
            "PLAYBACK_COOKIE_SECRET_ARN",
            "CLOUDFRONT_DISTRIBUTION_ID_PARAMETER",  # the local edge caches nothing: no invalidations
            "CLOUDFRONT_DISTRIBUTION_ID",
            "ORIGIN_VERIFY_SECRET_ARN",  # no CloudFront in front locally: the API checks no origin header
        ]:
            env.pop(name, None)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.moto.endpoint,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                # No AWS configuration needed, and a broken ~/.aws cannot interfere.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon
                "LOADBALANCER_SECRET": self.secret,
                "PLAYBACK_COOKIE_SECRET": self.playback_cookie_secret,  # the edge's functions use the same key
            }
        )
        env.setdefault("AWS_ACCESS_KEY_ID", "testing")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        # A proxy from the environment must not see loopback traffic (boto3 and urllib honour these).
        for name in ("NO_PROXY", "no_proxy"):
            env[name] = ",".join(filter(None, [env.get(name, ""), "127.0.0.1", "localhost"]))
        merged: dict[str, str] = {}
        for function in self.template.functions.values():
            for name, value in self.template.environment(function).items():
                if merged.setdefault(name, value) != value:
                    print(
                        f"scalelite-local: warning: {name} differs between functions; all share {merged[name]!r}",
                        file=sys.stderr,
                    )
        merged.pop("LOADBALANCER_SECRET_ARN", None)
        merged.pop("PLAYBACK_COOKIE_SECRET_ARN", None)
        merged.pop("CLOUDFRONT_DISTRIBUTION_ID_PARAMETER", None)
        merged.pop("CLOUDFRONT_DISTRIBUTION_ID", None)
        merged.pop("ORIGIN_VERIFY_SECRET_ARN", None)
        for name, value in merged.items():
            env.setdefault(name, value)
        env.setdefault("POWERTOOLS_SERVICE_NAME", "scalelite-serverless")
        env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ScaleliteServerless")
        env.setdefault("POLL_INTERVAL", "60")
        if self.config.poll_interval is not None:
            env["POLL_INTERVAL"] = _number(self.config.poll_interval)
        env.update(self.config.overrides)
        _reset_caches()

    def admin(self, command: str, **args: Any) -> Any:
        """Run an admin command through AdminFunction, as the CLI does (minus HTTP)."""
        assert self.invoker is not None, "not started"
        reply = self.invoker.invoke("AdminFunction", {"command": command, "args": args})
        if not isinstance(reply, dict) or not reply.get("ok"):
            error = reply.get("error") if isinstance(reply, dict) else reply
            raise RuntimeError(f"admin {command} failed: {error}")
        return reply.get("result")

    def _start_simulators(self) -> None:
        count = self.config.simulated_servers
        if count <= 0:
            return
        from bbbsim import BBBSimulator
        from scalelite_common.config import generate_secret

        self.simulators = [BBBSimulator(generate_secret()).start() for _ in range(count)]
        for sim in self.simulators:
            server = self.admin("servers.add", url=sim.url, secret=sim.secret)
            self.servers.append(self.admin("servers.enable", id=server["id"]))
        # Online now rather than after the first scheduled tick (a server needs SERVER_HEALTHY_THRESHOLD polls).
        for _ in range(min(5, max(1, int(os.environ.get("SERVER_HEALTHY_THRESHOLD") or 1)))):
            self.admin("poll", what="all")
        self.servers = self.admin("servers.list")["servers"]

    def _start_schedules(self) -> None:
        assert self.invoker is not None
        for source in self.template.schedules:
            period = float(os.environ["POLL_INTERVAL"]) if source.function == POLLER else None
            period = period or rate_seconds(source.expression)
            if period is None:
                print(f"scalelite-local: warning: schedule {source.expression!r} is not emulated", file=sys.stderr)
                continue
            schedule = Schedule(self.invoker, source.function, source.rule, period)
            schedule.ticker.start()
            self.schedules[source.function] = schedule

    def _start_notifiers(self) -> None:
        assert self.invoker is not None and self.moto is not None
        by_bucket: dict[str, list[Any]] = {}
        for source in self.template.s3_sources:
            by_bucket.setdefault(self.template.local_bucket_name(source.bucket), []).append(source)
        for bucket, sources in by_bucket.items():
            notifier = BucketNotifier(self.invoker, self.moto.endpoint, bucket, sources, self.config.notify_period)
            notifier.ticker.start()
            self.notifiers[bucket] = notifier

    def _start_queue_pollers(self) -> None:
        assert self.invoker is not None and self.moto is not None
        for source in self.template.sqs_sources:
            url = self.template.queue_urls[source.queue]
            poller = QueuePoller(
                self.invoker,
                self.moto.endpoint,
                source,
                url,
                self.template.queue_arn(source.queue),
                timeout=self.template.functions[source.function].timeout,
                period=self.config.queue_period,
            )
            poller.ticker.start()
            self.queue_pollers[source.function] = poller

    def stop(self, grace: float = 5.0) -> None:
        """Idempotent. Waits up to `grace` seconds for running invocations; afterwards every port is free and
        no thread of the stack is left, except a handler still running past the grace period (a daemon thread
        that cannot be killed, like a frozen Lambda sandbox)."""
        for schedule in self.schedules.values():
            schedule.ticker.stop()
        for notifier in self.notifiers.values():
            notifier.stop()
        for poller in self.queue_pollers.values():
            poller.stop()
        self.schedules, self.notifiers, self.queue_pollers = {}, {}, {}
        for server in (self.edge, self.gateway, self.lambda_api):
            if server is not None:
                server.close()
        self.edge = self.gateway = self.lambda_api = None
        if self.node is not None:
            self.node.close()
            self.node = None
        if self.simulators:  # before the invoker: releases handlers waiting on a simulated server
            from bbbsim import stop_simulators

            stop_simulators(self.simulators)
            self.simulators = []
        if self.invoker is not None:
            busy = self.invoker.close(timeout=grace)
            if busy:
                print(f"scalelite-local: {len(busy)} invocation(s) still running at stop", file=sys.stderr)
            self.invoker = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self._saved_env is not None:
            _restore_environment(self._saved_env)
            self._saved_env = None
            _reset_caches()
        global _running
        with _running_lock:
            if _running is self:
                _running = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cookie_secret() -> str:
    """Like the template's PlaybackCookieSecret: 64 letters and digits."""
    import secrets
    import string

    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(64))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _restore_environment(saved: Mapping[str, str]) -> None:
    for name in [n for n in os.environ if n not in saved]:
        del os.environ[name]
    for name, value in saved.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _reset_caches() -> None:
    """Settings and the composition root are cached per process; re-read them from the environment."""
    from scalelite_common.services import wiring

    wiring.reset_all()
