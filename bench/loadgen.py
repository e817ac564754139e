"""A bounded async load generator for the benchmarks: N keep-alive connections against a local
URL for a fixed time or number of requests; prints requests per second, p50, p99 and errors.

    .venv/bin/python bench/loadgen.py http://127.0.0.1:8000/registry/v1/rows \\
        --connections 32 --duration 10 --warmup 2 \\
        --header "Authorization: Bearer $KEY" --json '{"name": "row {n}"}'

`{n}` in the body is replaced by the request's sequence number. Only 127.0.0.1 / localhost is
accepted. Used as a library: `await run_load(url, ...)` returns a `LoadResult`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_CONNECTIONS = 1024
MAX_DURATION_S = 600.0
MAX_REQUESTS = 10_000_000

BodyFactory = Callable[[int], bytes]
# Headers made per request from its body: a service called directly wants each request signed
# anew (the signature covers the body and each request id is accepted once).
HeaderFactory = Callable[[bytes | None], dict[str, str]]


@dataclass
class LoadResult:
    url: str
    connections: int
    requests: int
    errors: int
    elapsed_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    # CPU the generator itself used while measuring: on a small machine it competes with the servers.
    generator_cpu_us_per_request: float = 0.0
    # CPU milliseconds per measured request of each server `cpu_of` named.
    server_cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    def cpu_line(self) -> str:
        """The servers' CPU milliseconds per request (`cpu_of`), then the generator's."""
        spent = "  ".join(f"{name} {ms:.2f}" for name, ms in self.server_cpu_ms_per_request.items())
        generator = self.generator_cpu_us_per_request / 1000
        whole = sum(self.server_cpu_ms_per_request.values()) + generator
        # The whole machine's CPU per request: two cores make at most 2,000 / `whole` requests a second.
        return f"CPU ms per request: {spent}  generator {generator:.2f}  all {whole:.2f}"

    def line(self) -> str:
        return (
            f"{self.rps:9.1f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
            f"errors {self.errors}/{self.requests}  ({self.connections} connections, {self.elapsed_s:.1f} s)"
        )


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def _check_local(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOCAL_HOSTS:
        raise ValueError(f"the load generator only targets this machine, not {host!r}")


async def run_load(
    url: str,
    *,
    paths: Callable[[int], str] | None = None,
    method: str = "POST",
    body: bytes | BodyFactory | None = None,
    headers: dict[str, str] | HeaderFactory | None = None,
    connections: int = 32,
    duration_s: float | None = 10.0,
    total_requests: int | None = None,
    warmup_s: float = 0.0,
    timeout_s: float = 10.0,
    cpu_of: Callable[[], dict[str, float]] | None = None,
) -> LoadResult:
    """Drive `url` with `connections` concurrent workers; measured after `warmup_s` seconds.

    Stops after `duration_s` seconds of measurement or `total_requests` measured requests,
    whichever comes first. A response other than 2xx, or a failed request, counts as an error.
    `paths` (n -> path and query) varies the request's target under `url`'s origin, the nth request
    of the run calling it with n. `cpu_of` reads the CPU seconds of the servers by name
    (bench/procs.py): read at the start and the end of the measurement, it gives their CPU per
    measured request.
    """
    _check_local(url)
    if not 1 <= connections <= MAX_CONNECTIONS:
        raise ValueError(f"connections must be 1..{MAX_CONNECTIONS}")
    if duration_s is None and total_requests is None:
        raise ValueError("give a duration or a number of requests")
    duration_s = min(duration_s if duration_s is not None else MAX_DURATION_S, MAX_DURATION_S)
    total_requests = min(total_requests if total_requests is not None else MAX_REQUESTS, MAX_REQUESTS)
    make_body: BodyFactory | None = (lambda _n, b=body: b) if isinstance(body, bytes) else body
    make_headers: HeaderFactory = headers if callable(headers) else (lambda _body, h=headers: h or {})

    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    sequence = 0
    measuring = warmup_s <= 0
    started = time.perf_counter()
    measure_start = started if measuring else started + warmup_s
    deadline = measure_start + duration_s
    measured = 0

    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal errors, sequence, measured
            while True:
                now = time.perf_counter()
                if now >= deadline or measured >= total_requests:
                    return
                sequence += 1
                data = make_body(sequence) if make_body else None
                request_headers = make_headers(data)
                target = url + paths(sequence) if paths is not None else url
                sent = time.perf_counter()
                status = "error"
                try:
                    async with session.request(method, target, data=data, headers=request_headers) as response:
                        await response.read()
                        status = str(response.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = type(exc).__name__
                done = time.perf_counter()
                if sent < measure_start:
                    continue
                measured += 1
                latencies.append(done - sent)
                statuses[status] += 1
                if not status.startswith("2"):
                    errors += 1

        servers_at_start: dict[str, float] = {}

        async def cpu_at_measure_start() -> float:
            await asyncio.sleep(max(0.0, measure_start - time.perf_counter()))
            if cpu_of is not None:
                servers_at_start.update(cpu_of())
            return time.process_time()

        cpu_mark = asyncio.ensure_future(cpu_at_measure_start())
        await asyncio.gather(*(worker() for _ in range(connections)))
        cpu_used = time.process_time() - await cpu_mark
        servers_at_end = cpu_of() if cpu_of is not None else {}
    elapsed = max(time.perf_counter() - measure_start, 1e-9)
    latencies.sort()
    return LoadResult(
        url=url,
        connections=connections,
        requests=measured,
        errors=errors,
        elapsed_s=elapsed,
        rps=measured / elapsed,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        generator_cpu_us_per_request=cpu_used / max(measured, 1) * 1e6,
        server_cpu_ms_per_request={
            name: (servers_at_end[name] - servers_at_start[name]) / max(measured, 1) * 1000 for name in servers_at_end
        },
        statuses=dict(statuses),
    )


def _json_body(template: str) -> BodyFactory:
    json.loads(template.replace("{n}", "0"))  # fail early on a template that is not JSON
    return lambda n: template.replace("{n}", str(n)).encode()


def _run(coroutine: Coroutine[Any, Any, LoadResult]) -> LoadResult:
    # uvloop when installed: the generator then takes less of the CPU the measured servers need.
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--method", default="POST")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--requests", type=int, default=None, help="stop after this many measured requests")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("--json", dest="json_body", default=None, help="JSON body template; {n} is the sequence")
    parser.add_argument("--output", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)

    headers = {}
    for item in args.header:
        name, _, value = item.partition(":")
        headers[name.strip()] = value.strip()
    body: BodyFactory | None = None
    if args.json_body is not None:
        body = _json_body(args.json_body)
        headers.setdefault("Content-Type", "application/json")
    result = _run(
        run_load(
            args.url,
            method=args.method,
            body=body,
            headers=headers,
            connections=args.connections,
            duration_s=args.duration,
            total_requests=args.requests,
            warmup_s=args.warmup,
        )
    )
    print(json.dumps(asdict(result)) if args.output == "json" else result.line())
    sys.exit(0)


if __name__ == "__main__":
    main()
