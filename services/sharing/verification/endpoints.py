"""Routes of identity verification."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.access import SharingVerifier

from ..dependencies import VerificationServiceDep
from .schemas import IdentityCheck, IdentityVerdict

router = APIRouter(prefix="/sharing/v1/verifications", tags=["verifications"])


@router.post(
    "/identity",
    summary="Check an id number and name against public security's records",
    description=(
        "`{match, deceased}` against public security's latest `identity` record, nothing more: no record is "
        "`match: false`, and `deceased` is only ever true with a match. Every check is audited. The gateway "
        "limits this route per client far more tightly than others (`GATEWAY_ROUTE_RATE_LIMITS`), so it "
        "cannot be used to enumerate names: once the client's limit on this route is used up, the answer is "
        "429 `rate-limited` with a Retry-After."
    ),
)
async def verify_identity(
    body: IdentityCheck, caller: SharingVerifier, verifications: VerificationServiceDep
) -> IdentityVerdict:
    return await verifications.verify(caller, body)
