"""A stand-in service for the gateway tests, run as a real uvicorn process: it verifies the signed
identity exactly as the real services do and echoes what reached it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from services.kit.errors import install_problem_handlers
from services.kit.identity import GatewayIdentityMiddleware, current_caller
from services.kit.logging import RequestIdMiddleware
from services.kit.settings import DEV_INTERNAL_SECRET

SLOW_S = 5.0


class Widget(BaseModel):
    widget_id: int
    label: str


def create_app() -> FastAPI:
    secret = os.environ.get("UPSTREAM_INTERNAL_SECRET", DEV_INTERNAL_SECRET).encode()
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/registry/v1/widgets/{widget_id}")
    async def widget(widget_id: int) -> Widget:
        return Widget(widget_id=widget_id, label="typed, so it appears in the OpenAPI document")

    @app.api_route("/{prefix}/v1/slow", methods=["GET"])
    async def slow() -> dict[str, str]:
        await asyncio.sleep(SLOW_S)
        return {"status": "late"}

    @app.api_route("/{prefix}/v1/created", methods=["POST"])
    async def created(request: Request) -> Response:
        return JSONResponse(
            {"created": True},
            status_code=201,
            headers={"Location": "/registry/v1/persons/123", "x-upstream-note": "kept"},
        )

    @app.api_route("/{prefix}/v1/gone", methods=["DELETE"])
    async def gone() -> Response:
        return Response(status_code=204)

    @app.api_route("/{prefix}/v1/stream", methods=["GET"])
    async def stream(size: int) -> StreamingResponse:
        # Chunked, with no content-length: the gateway has to stream it.
        data = bytes(i % 251 for i in range(size))

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, size, 65_536):
                yield data[start : start + 65_536]

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request) -> dict[str, object]:
        caller = await current_caller(request)
        body = await request.body()
        return {
            "caller": {
                "client_id": caller.client_id,
                "agency": caller.agency,
                "scopes": sorted(caller.scopes),
                "request_id": caller.request_id,
            },
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "body": body.decode(),
            "headers": [[k, v] for k, v in request.headers.items()],
        }

    app.add_middleware(GatewayIdentityMiddleware, secret=secret)
    app.add_middleware(RequestIdMiddleware)
    return app
