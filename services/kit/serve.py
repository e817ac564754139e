"""Starts one of the four apps under uvicorn with the kit's connection limits (services/kit/server.py):

    python -m services.kit.serve <gateway|registry|subsidy|sharing> [--host 127.0.0.1] [--port N]

Settings come from the service's environment variables as always (`GATEWAY_HEADER_TIMEOUT_S`,
`REGISTRY_MAX_CONNECTIONS`, ...). The server is uvicorn with uvloop and httptools, the kit's JSON
logs from the first line (one per request, by route template; uvicorn's access log is off),
the service's keep-alive timeout, and the header, body and connection limits of its settings. The
soft limit on open files is raised to the hard limit, and the connection cap kept a quarter below
it, so that the database pool, the hop's and the broker's connections and the log files still find
descriptors when clients hold every connection they may.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib
import logging
import resource
from collections.abc import Sequence

import uvicorn

from .logging import configure_logging
from .server import ConnectionLimits, bounded_protocol
from .settings import ServiceSettings

log = logging.getLogger(__name__)

PORTS = {"gateway": 8000, "registry": 8001, "subsidy": 8002, "sharing": 8003}


def settings_of(service: str) -> ServiceSettings:
    """The service's own settings class (`services.<service>.settings.<Service>Settings`), from the environment."""
    module = importlib.import_module(f"services.{service}.settings")
    settings: ServiceSettings = getattr(module, f"{service.capitalize()}Settings")()
    return settings


def raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft if soft != resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft
    return hard


def connection_limits(settings: ServiceSettings, file_limit: int) -> ConnectionLimits:
    limits = ConnectionLimits.from_settings(settings)
    room = file_limit - max(256, file_limit // 4)
    if limits.max_connections > room:
        log.warning(
            "max_connections lowered to fit the open-files limit",
            extra={"configured": limits.max_connections, "used": max(1, room), "file_limit": file_limit},
        )
        limits = dataclasses.replace(limits, max_connections=max(1, room))
    return limits


def config(service: str, *, host: str, port: int) -> uvicorn.Config:
    settings = settings_of(service)
    # Before uvicorn says a word: its own lines are JSON too, and never coloured.
    configure_logging(service, settings.log_level, settings.log_json)
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    # What start-up built (modules, models, compiled schemas, the app) lives as long as the process:
    # out of the collector's sight, a full collection walks only what requests made since.
    gc.collect()
    gc.freeze()
    limits = connection_limits(settings, raise_file_limit())
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=bounded_protocol(limits),
        ws="none",
        lifespan="on",
        # uvicorn's access log names the raw path and query; the kit logs each request instead
        # (metrics.py: route template, status, duration, client), and keeps uvicorn's config away.
        access_log=False,
        log_config=None,
        use_colors=False,
        timeout_keep_alive=settings.keep_alive_timeout_s,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.kit.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=sorted(PORTS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: gateway 8000, registry 8001, ...")
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else PORTS[args.service]
    uvicorn.Server(config(args.service, host=args.host, port=port)).run()


if __name__ == "__main__":
    main()
