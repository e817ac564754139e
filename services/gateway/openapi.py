"""The merged OpenAPI document: the gateway's own API plus each service's paths under its prefix.

Fetched from the services' `/openapi.json` when asked for and kept for a short while. A schema
name two services use for different shapes is renamed `<service>__<name>` in the later one (and
every `$ref` to it), so neither hides the other. A service that cannot be reached is listed under
`x-unavailable-services` rather than failing the whole document.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.gateway.dependencies import RuntimeDep
from services.gateway.proxy import Upstream
from services.gateway.runtime import GatewayRuntime
from services.kit.openapi import SCHEMAS as SCHEMA_REF
from services.kit.openapi import SECURITY_SCHEME

log = logging.getLogger(__name__)

CACHE_S = 30.0
FETCH_TIMEOUT_S = 3.0

router = APIRouter(include_in_schema=False)


def merge_documents(own: dict[str, Any], services: Sequence[tuple[Upstream, dict[str, Any] | None]]) -> dict[str, Any]:
    merged = copy.deepcopy(own)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    components: dict[str, Any] = merged.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    unavailable = []
    for upstream, document in services:
        if document is None:
            unavailable.append(upstream.name)
            continue
        document = _without_conflicts(document, schemas, upstream.name)
        schemas.update(document.get("components", {}).get("schemas", {}))
        for path, item in document.get("paths", {}).items():
            if path == upstream.prefix or path.startswith(upstream.prefix + "/"):
                paths[path] = item
    components["securitySchemes"] = {
        SECURITY_SCHEME: {"type": "http", "scheme": "bearer", "description": "An API key issued by the gateway"}
    }
    merged["security"] = [{SECURITY_SCHEME: []}]
    if unavailable:
        merged["x-unavailable-services"] = unavailable
    return merged


def _without_conflicts(document: dict[str, Any], taken: dict[str, Any], service: str) -> dict[str, Any]:
    """Rename the schemas of `document` that would replace a different schema already taken.

    Renaming one schema changes the schemas that refer to it, which may then clash in turn, so
    this repeats until nothing clashes.
    """
    renames: dict[str, str] = {}
    while True:
        renamed = _rename_refs(document, renames)
        own = renamed.get("components", {}).get("schemas", {})
        clashes = {
            name
            for name, schema in own.items()
            if name not in renames.values() and name in taken and taken[name] != schema
        }
        if not clashes:
            return renamed
        for name in clashes:
            renames[name] = f"{service}__{name}"


def _rename_refs(document: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    if not renames:
        return document

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMA_REF):
                    name = value[len(SCHEMA_REF) :]
                    out[key] = SCHEMA_REF + renames.get(name, name)
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: dict[str, Any] = walk(document)
    schemas = result.get("components", {}).get("schemas")
    if schemas:
        result["components"]["schemas"] = {renames.get(name, name): schema for name, schema in schemas.items()}
    return result


async def _fetch(session: aiohttp.ClientSession, upstream: Upstream) -> dict[str, Any] | None:
    try:
        async with session.get(
            upstream.base_url + "/openapi.json", timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
        ) as response:
            if response.status != 200:
                return None
            document: dict[str, Any] = await response.json()
            return document
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("OpenAPI document of a service unavailable", extra={"upstream": upstream.name, "error": str(exc)})
        return None


async def merged_document(own: dict[str, Any], runtime: GatewayRuntime) -> dict[str, Any]:
    """The gateway's own document merged with the services', kept on the runtime for a while."""
    cached = runtime.merged_openapi
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    upstreams = runtime.upstreams
    session = runtime.proxy.session
    documents = await asyncio.gather(*(_fetch(session, upstream) for upstream in upstreams))
    merged = merge_documents(own, list(zip(upstreams, documents, strict=True)))
    # A document missing a service is kept only briefly, so it fills in soon after the service is up.
    lifetime = CACHE_S if "x-unavailable-services" not in merged else 2.0
    runtime.merged_openapi = (time.monotonic() + lifetime, merged)
    return merged


@router.get("/openapi.json")
async def openapi_json(request: Request, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(await merged_document(request.app.openapi(), runtime))
