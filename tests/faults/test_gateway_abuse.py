"""Fault scenarios 6 and 7 of issue 5, against the gateway and the sharing service as real processes
started through `python -m services.kit.serve`, on fresh PostgreSQL databases and the session's
broker.

6. Slowloris, an idle-connection flood and oversized uploads against the gateway: legitimate
   requests keep working throughout (every one answered), and the gateway's peak RSS stays under
   256 MB.
7. Body replay: the signed header set of a request the gateway really forwarded, captured on the
   way, sent straight to the sharing service with another body is 401; with its own body, 401 too
   (the request id was already used).

Attackers connect from other loopback addresses (127.0.0.2 and up) than the legitimate client
(127.0.0.1), as other hosts would. Outcomes are counted, never timed; each scenario prints its
figures (run with -s to see them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from deploy.embedded import ready, wait_until
from services.kit.identity import signed_headers
from services.kit.settings import DEV_INTERNAL_SECRET
from tests.registry.people import id_number
from tests.support import ROOT, PostgresDatabases, free_port

pytestmark = [pytest.mark.integration, pytest.mark.faults]

RSS_LIMIT_KB = 256 * 1024
HEADER_TIMEOUT_S = 2
PER_ADDRESS = 100
PUSH = "/sharing/v1/agencies/civil_affairs/datasets/dibao/records"


# ------------------------------------------------------------------------------ processes


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self, field_name: str) -> int:
        """A figure in kB from /proc/<pid>/status (VmHWM: peak resident set, VmRSS: now)."""
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field_name} for {self.name}")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.popen.pid}/fd"))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def serve(service: str, env: dict[str, str], log_dir: Path, label: str | None = None) -> Process:
    """`python -m services.kit.serve <service>` on a free port, ready when it says so."""
    port = free_port()
    name = label or service
    log = log_dir / f"{name}.log"
    popen = subprocess.Popen(
        [sys.executable, "-m", "services.kit.serve", service, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = Process(name, port, popen, log)
    try:
        wait_until(lambda: _ready(process), f"the {name} process", timeout=60)
    except BaseException:
        process.stop()
        raise
    return process


def _ready(process: Process) -> bool:
    if process.popen.poll() is not None:
        raise RuntimeError(f"{process.name} exited with {process.popen.returncode}: {process.log.read_text()[-2000:]}")
    return ready(f"{process.url}/readyz")


@dataclass
class Stack:
    gateway: Process
    sharing: Process
    admin_key: str
    civil_key: str
    batch_path: str
    log_dir: Path
    database_url: str
    sharing_env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def open_files_for_the_test() -> Iterator[None]:
    """Room for a few thousand client sockets in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 16384) if hard != resource.RLIM_INFINITY else 16384
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(
    databases: PostgresDatabases,
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
    open_files_for_the_test: None,
) -> AsyncIterator[Stack]:
    log_dir = tmp_path_factory.mktemp("gateway-abuse")
    gateway_db = await databases.migrated("gateway")
    sharing_db = await databases.migrated("sharing")
    admin_key = "rk_abuse_" + secrets.token_urlsafe(24)
    sharing_env = {"SHARING_DATABASE_URL": sharing_db, "SHARING_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    sharing = await asyncio.to_thread(serve, "sharing", sharing_env, log_dir)
    try:
        gateway = await asyncio.to_thread(serve, "gateway", gateway_env(gateway_db, admin_key, sharing.url), log_dir)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                civil_key = await issue(http, gateway.url, admin_key, "civil_affairs", ["sharing:submit"])
                pushed = await http.post(
                    gateway.url + PUSH, json=dibao_records(3), headers={"Authorization": f"Bearer {civil_key}"}
                )
                assert pushed.status_code == 201, pushed.text
            yield Stack(
                gateway, sharing, admin_key, civil_key, pushed.headers["location"], log_dir, gateway_db, sharing_env
            )
        finally:
            gateway.stop()
    finally:
        sharing.stop()


def gateway_env(database_url: str, admin_key: str, sharing_url: str) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "BOOTSTRAP_ADMIN_KEY": admin_key,
        "GATEWAY_SHARING_URL": sharing_url,
        "GATEWAY_REGISTRY_URL": sharing_url,
        "GATEWAY_SUBSIDY_URL": sharing_url,
        "GATEWAY_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "GATEWAY_BODY_TIMEOUT_S": "10",
        "GATEWAY_MAX_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS),
    }


async def issue(http: httpx.AsyncClient, gateway: str, admin_key: str, agency: str, scopes: list[str]) -> str:
    response = await http.post(
        f"{gateway}/gateway/v1/clients",
        json={"name": f"{agency} abuse test", "agency": agency, "scopes": scopes},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


def dibao_records(count: int) -> dict[str, object]:
    return {
        "records": [
            {"id_number": id_number(), "household_no": f"RC-AB-{uuid.uuid4().hex[:8]}", "since": "2024-06-01"}
            for _ in range(count)
        ]
    }


async def metric(process: Process, name: str, labels: str) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{process.url}/metrics")).text
    match = re.search(rf"^{name}\{{{labels}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


# ------------------------------------------------------------------------------ legitimate load


@dataclass
class Legitimate:
    """A client that keeps reading its batch through the gateway and counts the answers."""

    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def succeeded(self) -> int:
        return self.statuses["200"]

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")


@asynccontextmanager
async def legitimate_load(stack: Stack) -> AsyncIterator[Legitimate]:
    load = Legitimate()
    stop = asyncio.Event()

    async def run() -> None:
        async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {stack.civil_key}"}) as http:
            while not stop.is_set():
                try:
                    response = await http.get(stack.gateway.url + stack.batch_path)
                    load.statuses[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    load.statuses[type(exc).__name__] += 1
                await asyncio.sleep(0.02)

    task = asyncio.create_task(run())
    try:
        yield load
    finally:
        stop.set()
        await task


# ------------------------------------------------------------------------------ attackers


async def connect(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    except OSError:
        return None


async def until_closed(reader: asyncio.StreamReader, bound_s: float = 30.0) -> bool:
    """Whether the server closed the connection (EOF or reset) within the bound."""
    try:
        async with asyncio.timeout(bound_s):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


@dataclass
class Tally:
    opened: int = 0
    failed_to_open: int = 0
    closed_by_server: int = 0
    answered: int = 0


async def slowloris(port: int, sources: list[str], per_source: int, attack_s: float) -> Tally:
    """Connections that send a request line and then one header byte every half second, each
    reconnecting when the server closes it, for `attack_s` seconds."""
    tally = Tally()
    loop = asyncio.get_running_loop()
    ends = loop.time() + attack_s

    async def attacker(source: str) -> None:
        while loop.time() < ends:
            connection = await connect(port, source)
            if connection is None:
                tally.failed_to_open += 1
                await asyncio.sleep(0.1)
                continue
            reader, writer = connection
            tally.opened += 1
            closed = asyncio.create_task(until_closed(reader, bound_s=attack_s + 30))
            try:
                writer.write(f"POST {PUSH} HTTP/1.1\r\nHost: gateway\r\nX-Slow: ".encode())
                while not closed.done() and loop.time() < ends:
                    writer.write(b"a")
                    await writer.drain()
                    await asyncio.wait({closed}, timeout=0.5)
            except ConnectionError:
                pass
            if closed.done() or await closed:
                tally.closed_by_server += 1
            writer.close()

    await asyncio.gather(*(attacker(source) for source in sources for _ in range(per_source)))
    return tally


def attacker_addresses(first: int, count: int) -> list[str]:
    return [f"127.0.{first // 250}.{2 + first % 250 + n}" for n in range(count)]


# ------------------------------------------------------------------------------ scenario 6


async def test_slowloris_does_not_keep_connections_or_stop_legitimate_requests(stack: Stack) -> None:
    gateway = stack.gateway
    timed_out_before = await metric(gateway, "http_connections_timed_out_total", 'phase="headers"')
    sources = attacker_addresses(0, 8)
    async with legitimate_load(stack) as legit:
        tally = await slowloris(gateway.port, sources, per_source=PER_ADDRESS, attack_s=3 * HEADER_TIMEOUT_S)
    timed_out = await metric(gateway, "http_connections_timed_out_total", 'phase="headers"') - timed_out_before
    peak = gateway.status("VmHWM")
    print(
        f"\nscenario 6, slowloris: {len(sources) * PER_ADDRESS} trickling connections at a time from "
        f"{len(sources)} addresses for {3 * HEADER_TIMEOUT_S} s: {tally.opened} opened, "
        f"{tally.closed_by_server} closed by the gateway ({timed_out:.0f} at the header deadline), "
        f"{tally.failed_to_open} failed to open; legitimate requests {legit.succeeded} succeeded, "
        f"{legit.failed} failed {dict(legit.statuses)}; gateway peak RSS {peak / 1024:.0f} MB"
    )
    # Every trickling connection was ended by the gateway, and the slots were taken again and again.
    assert tally.closed_by_server == tally.opened > len(sources) * PER_ADDRESS
    assert timed_out > 0
    assert legit.succeeded > 0 and legit.failed == 0
    assert peak < RSS_LIMIT_KB


async def test_an_idle_flood_is_capped_per_address_and_closed_at_the_deadline(stack: Stack) -> None:
    gateway = stack.gateway
    refused_before = await metric(gateway, "http_connections_refused_total", 'cap="per_address"')
    sources = attacker_addresses(100, 20)
    per_source = 150
    async with legitimate_load(stack) as legit:
        connections = [
            connection
            for connection in await asyncio.gather(
                *(connect(gateway.port, source) for source in sources for _ in range(per_source))
            )
            if connection is not None
        ]
        open_files_at_peak = gateway.open_files()
        closed = await asyncio.gather(*(until_closed(reader) for reader, _ in connections))
    for _, writer in connections:
        writer.close()
    refused = await metric(gateway, "http_connections_refused_total", 'cap="per_address"') - refused_before
    peak = gateway.status("VmHWM")
    print(
        f"\nscenario 6, idle flood: {len(sources) * per_source} connections from {len(sources)} addresses "
        f"(cap {PER_ADDRESS} per address): {len(connections)} opened, {refused:.0f} closed on accept, "
        f"{sum(closed)} closed by the gateway in all; gateway open files at the peak {open_files_at_peak}; "
        f"legitimate requests {legit.succeeded} succeeded, {legit.failed} failed; gateway peak RSS {peak / 1024:.0f} MB"
    )
    assert all(closed)
    assert refused > 0
    assert open_files_at_peak < len(sources) * PER_ADDRESS + 500
    assert legit.succeeded > 0 and legit.failed == 0
    assert peak < RSS_LIMIT_KB


async def test_oversized_uploads_are_refused_without_growing_the_gateway(stack: Stack) -> None:
    gateway = stack.gateway
    size = 31 * 1024 * 1024 + 512 * 1024
    upload = b" " * (size - 2)
    upload = b"{" + upload + b"}"
    async with httpx.AsyncClient(timeout=120) as http:
        reader_key = await issue(http, gateway.url, stack.admin_key, "civil_affairs", ["sharing:read"])

    async def send(kind: str) -> str:
        key = reader_key if kind == "no scope" else stack.civil_key
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        async def chunked() -> AsyncIterator[bytes]:
            view = memoryview(upload)
            for start in range(0, size, 256 * 1024):
                yield bytes(view[start : start + 256 * 1024])

        content: bytes | AsyncIterator[bytes] = upload if kind == "sized" else chunked()
        transport = httpx.AsyncHTTPTransport(local_address="127.0.3.2")
        try:
            async with httpx.AsyncClient(timeout=120, transport=transport) as client:
                response = await client.post(gateway.url + PUSH, content=content, headers=headers)
            return str(response.status_code)
        except httpx.HTTPError as exc:
            # The gateway may stop reading an upload it has refused; the client then cannot finish sending.
            return type(exc).__name__

    kinds = ["sized"] * 10 + ["chunked"] * 10 + ["no scope"] * 4
    async with legitimate_load(stack) as legit:
        outcomes = await asyncio.gather(*(send(kind) for kind in kinds))
    by_kind: dict[str, Counter[str]] = {}
    for kind, outcome in zip(kinds, outcomes, strict=True):
        by_kind.setdefault(kind, Counter())[outcome] += 1
    peak = gateway.status("VmHWM")
    sharing_peak = stack.sharing.status("VmHWM")
    outcome_figures = {kind: dict(counts) for kind, counts in by_kind.items()}
    print(
        f"\nscenario 6, oversized uploads: {len(kinds)} concurrent uploads of {size / 2**20:.1f} MiB to the "
        f"dataset push: {outcome_figures}; legitimate requests {legit.succeeded} "
        f"succeeded, {legit.failed} failed; peak RSS gateway {peak / 1024:.0f} MB, sharing {sharing_peak / 1024:.0f} MB"
    )
    assert by_kind["sized"] == Counter({"413": 10})
    assert by_kind["no scope"] == Counter({"403": 4})
    # Unsized uploads are read up to the push limit, at most 8 at a time (503 for the others).
    assert set(by_kind["chunked"]) <= {"413", "503", "WriteError", "RemoteProtocolError", "ReadError"}
    assert by_kind["chunked"]["413"] > 0
    assert legit.succeeded > 0 and legit.failed == 0
    assert peak < RSS_LIMIT_KB


# ------------------------------------------------------------------------------ scenario 7


@dataclass
class Captured:
    method: str = ""
    target: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


@asynccontextmanager
async def capturing_upstream() -> AsyncIterator[tuple[int, list[Captured]]]:
    """A stand-in service that keeps the requests it receives, as an eavesdropper on the internal
    network would see them, and answers 201."""
    captured: list[Captured] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, target, _ = head[0].split(" ", 2)
                headers = [
                    (n.strip().lower(), v.strip()) for n, _, v in (line.partition(":") for line in head[1:] if line)
                ]
                length = int(dict(headers).get("content-length", "0"))
                captured.append(Captured(method, target, headers, await reader.readexactly(length)))
                body = b'{"batch_id": "captured"}'
                writer.write(
                    b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, captured
    finally:
        server.close()
        await server.wait_closed()


async def test_a_captured_header_set_replayed_with_another_body_is_401(stack: Stack) -> None:
    async with capturing_upstream() as (port, captured):
        eavesdropped = await asyncio.to_thread(
            serve,
            "gateway",
            gateway_env(stack.database_url, stack.admin_key, f"http://127.0.0.1:{port}"),
            stack.log_dir,
            "gateway-to-eavesdropper",
        )
        try:
            original = json.dumps(dibao_records(1)).encode()
            async with httpx.AsyncClient(timeout=30) as http:
                through = await http.post(
                    eavesdropped.url + PUSH,
                    content=original,
                    headers={"Authorization": f"Bearer {stack.civil_key}", "Content-Type": "application/json"},
                )
        finally:
            eavesdropped.stop()
    assert through.status_code == 201 and len(captured) == 1
    request = captured[0]
    assert request.body == original
    replayable = {
        name: value for name, value in request.headers if name not in {"host", "content-length", "connection"}
    }

    attacker_body = json.dumps(dibao_records(5)).encode()
    async with httpx.AsyncClient(timeout=30, base_url=stack.sharing.url) as direct:
        other_body = await direct.post(request.target, content=attacker_body, headers=replayable)
        same_body = await direct.post(request.target, content=original, headers=replayable)
        # What the service does accept: a request signed afresh for its own body.
        fresh = signed_headers(
            DEV_INTERNAL_SECRET.encode(),
            method="POST",
            path=PUSH,
            client_id=replayable["x-client-id"],
            agency="civil_affairs",
            scopes=["sharing:submit"],
            request_id=uuid.uuid4().hex,
            body=original,
        )
        genuine = await direct.post(PUSH, content=original, headers={**fresh, "content-type": "application/json"})
    print(
        f"\nscenario 7, body replay: a header set captured from the gateway's hop, sent to the sharing service "
        f"with another body: {other_body.status_code} ({other_body.json()['detail']}); with its own body again: "
        f"{same_body.status_code} ({same_body.json()['detail']}); a freshly signed request: {genuine.status_code}"
    )
    for response, detail in ((other_body, "does not match its signature"), (same_body, "already received")):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:rongchang-employment:problem:unauthorized"
        assert detail in response.json()["detail"]
    assert genuine.status_code == 201, genuine.text
    assert genuine.json()["accepted"] == 1
