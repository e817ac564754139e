"""Typed dependencies of the gateway's routes; the only module that reads `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.runtime import GatewayRuntime


async def gateway_runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[GatewayRuntime, Depends(gateway_runtime)]
