"""The whole local stack, startable in-process on any ports (tests use ephemeral ones)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalelite_local.aws import MotoServer, create_resources
from scalelite_local.events import PollerSchedule, SpoolWatcher
from scalelite_local.gateway import GatewayServer
from scalelite_local.invoker import Invoker
from scalelite_local.lambda_api import LambdaApiServer
from scalelite_local.template import TEMPLATE, Template, load

HOST = "127.0.0.1"


@dataclass
class Config:
    aws_port: int = 5000
    port: int = 8080
    lambda_port: int = 3001
    simulated_servers: int = 2
    poll_interval: float | None = None  # None: the env var / template default
    secret: str | None = None
    template_path: Path = TEMPLATE
    overrides: Mapping[str, str] = field(default_factory=dict)  # extra function env (tests)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env

        def num(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SystemExit(f"scalelite-local: {name} must be a number, got {raw!r}") from None

        poll = env.get("POLL_INTERVAL", "").strip()
        try:
            poll_interval = float(poll) if poll else None
        except ValueError:
            raise SystemExit(f"scalelite-local: POLL_INTERVAL must be a number, got {poll!r}") from None
        return cls(
            aws_port=num("SCALELITE_AWS_PORT", 5000),
            port=num("SCALELITE_PORT", 8080),
            lambda_port=num("SCALELITE_LAMBDA_PORT", 3001),
            simulated_servers=num("SIMULATED_SERVERS", 2),
            poll_interval=poll_interval,
            secret=env.get("LOADBALANCER_SECRET") or None,
        )


class LocalStack:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.template = Template(load(self.config.template_path))
        self.moto: MotoServer | None = None
        self.gateway: GatewayServer | None = None
        self.lambda_api: LambdaApiServer | None = None
        self.invoker: Invoker | None = None
        self.schedule: PollerSchedule | None = None
        self.watcher: SpoolWatcher | None = None
        self.simulators: list[Any] = []
        self.servers: list[dict[str, Any]] = []
        self.secret = ""
        self._threads: list[threading.Thread] = []
        self._saved_environ: dict[str, str] | None = None

    # ----------------------------------------------------------------------------- urls
    @property
    def api_url(self) -> str:
        assert self.gateway is not None
        return f"http://{HOST}:{self.gateway.server_address[1]}/bigbluebutton/api/"

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None
        return f"http://{HOST}:{self.gateway.server_address[1]}"

    @property
    def lambda_url(self) -> str:
        assert self.lambda_api is not None
        return f"http://{HOST}:{self.lambda_api.server_address[1]}"

    @property
    def aws_url(self) -> str:
        assert self.moto is not None
        return self.moto.endpoint

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

        cfg = self.config
        self.moto = MotoServer(HOST, cfg.aws_port)
        self.moto.start()
        create_resources(self.template, self.moto.endpoint)
        self.secret = cfg.secret or generate_secret()
        self._configure_environment()
        self.invoker = Invoker(self.template)
        self.gateway = GatewayServer((HOST, cfg.port), self.invoker)
        self.lambda_api = LambdaApiServer((HOST, cfg.lambda_port), self.invoker)
        for server in (self.gateway, self.lambda_api):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._start_simulators()
        interval = float(os.environ.get("POLL_INTERVAL") or 60)
        self.schedule = PollerSchedule(self.invoker, interval)
        self.schedule.ticker.start()
        spool = self.template.local_bucket_name("SpoolBucket")
        if "SpoolBucket" in self.template.buckets:
            self.watcher = SpoolWatcher(self.invoker, self.moto.endpoint, spool)
            self.watcher.ticker.start()

    def _configure_environment(self) -> None:
        """The functions run in this process: give them the environment AWS would (template Globals + function
        Environment), pointed at moto. Variables the operator set win over template defaults."""
        assert self.moto is not None
        self._saved_environ = dict(os.environ)  # restored by stop(): tests share the process
        base = {
            "AWS_ENDPOINT_URL": self.moto.endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "LOADBALANCER_SECRET": self.secret,
        }
        os.environ.update(base)
        # A machine with no AWS config at all (or a broken one) must work: dummy credentials, no shared files.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.pop("AWS_PROFILE", None)
        os.environ["AWS_CONFIG_FILE"] = os.devnull
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        for function in self.template.functions.values():
            for name, value in self.template.environment(function).items():
                if name == "LOADBALANCER_SECRET_ARN":
                    continue  # locally the secret is plain env, never Secrets Manager
                os.environ.setdefault(name, value)
        if self.config.poll_interval is not None:
            os.environ["POLL_INTERVAL"] = str(self.config.poll_interval)
        os.environ.update(self.config.overrides)
        os.environ.pop("LOADBALANCER_SECRET_ARN", None)
        from scalelite_common import db
        from scalelite_common.config import get_settings
        from scalelite_common.services import wiring

        get_settings.cache_clear()
        db.reset()
        wiring.reset()

    def admin(self, command: str, **args: Any) -> Any:
        """Run an admin command through AdminFunction, exactly as the CLI does (minus HTTP)."""
        assert self.invoker is not None
        reply = self.invoker.invoke("AdminFunction", {"command": command, "args": args})
        if not reply.get("ok"):
            raise RuntimeError(f"admin {command} failed: {reply.get('error')}")
        return reply.get("result")

    def _start_simulators(self) -> None:
        if self.config.simulated_servers <= 0:
            return
        from bbbsim import start_simulators

        self.simulators = start_simulators(self.config.simulated_servers)
        for sim in self.simulators:
            server = self.admin("servers.add", url=sim.url, secret=sim.secret)
            self.servers.append(self.admin("servers.enable", id=server["id"]))
        self.admin("poll", what="all")  # online now, not after the first scheduled tick

    def stop(self) -> None:
        if self.schedule is not None:
            self.schedule.ticker.stop()
        if self.watcher is not None:
            self.watcher.ticker.stop()
        for server in (self.gateway, self.lambda_api):
            if server is not None:
                server.shutdown()
                server.server_close()
        if self.simulators:
            from bbbsim import stop_simulators

            stop_simulators(self.simulators)
            self.simulators = []
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        self.gateway = self.lambda_api = None
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
