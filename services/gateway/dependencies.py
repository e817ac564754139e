"""Typed dependencies of the gateway's routes; the only module that reads `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from contracts.vocabulary import Scope
from services.gateway.runtime import GatewayRuntime
from services.kit.identity import Caller, require_scope


async def gateway_runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[GatewayRuntime, Depends(gateway_runtime)]

# The edge already refused non-admins on `/gateway/v1`; the dependency says so in each route's
# signature as well.
AdminDep = Annotated[Caller, Depends(require_scope(Scope.admin))]
