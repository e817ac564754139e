"""Routes of batches: agencies push records; submitters and readers look a batch up."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from contracts.vocabulary import Agency, Scope
from services.kit.access import SharingSubmitter
from services.kit.errors import AgencyMismatch
from services.kit.identity import Caller, require_scope
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery

from ..dependencies import BatchServiceDep, SettingsDep
from ..problems import (
    BatchNotFound,
    BatchTooLarge,
    InvalidBatch,
    InvalidCsv,
    MalformedBatch,
    UnknownAgency,
    UnknownDataset,
    UnsupportedBatchType,
)
from .parsing import too_large_bytes
from .schemas import PUSH_REQUEST_BODY, BatchRead, BatchReceipt, Outcome
from .service import Push

router = APIRouter(prefix="/sharing/v1", tags=["batches"])

# Checked by the catalog, not by FastAPI: an agency without datasets is a 404 `unknown-agency` naming
# the known ones, not a generic 422. The schema still lists the codes.
AgencyPath = Annotated[
    str, Path(description="The agency's code", json_schema_extra={"enum": [agency.value for agency in Agency]})
]
# A batch is read by the keys that push (their own agency's) and by sharing readers; which batches
# each may see is the service's rule (`BatchService.read`).
BatchReader = Annotated[Caller, Depends(require_scope(Scope.sharing_read, Scope.sharing_submit))]


@router.post(
    "/agencies/{agency}/datasets/{dataset}/records",
    status_code=201,
    summary="Push dataset records (JSON or CSV)",
    description=(
        "Each record is validated against the dataset; accepted ones become facts on `sharing.fact.v1` "
        "(a sensitive dataset's, special populations, only on `sharing.sensitive-fact.v1`), rejected ones "
        "come back with every error and are kept with the batch. A key pushes only its own agency's "
        "datasets (admin any). 201 with a Location of the batch, even when every record is rejected."
    ),
    responses=problems(
        MalformedBatch,
        AgencyMismatch,
        UnknownAgency,
        UnknownDataset,
        BatchTooLarge,
        UnsupportedBatchType,
        InvalidBatch,
        InvalidCsv,
    ),
    openapi_extra=PUSH_REQUEST_BODY,
)
async def push_records(
    agency: AgencyPath,
    dataset: str,
    request: Request,
    response: Response,
    caller: SharingSubmitter,
    settings: SettingsDep,
    batches: BatchServiceDep,
) -> BatchReceipt:
    body = await _read_body(request, settings.max_batch_bytes)
    push = Push(agency=agency, dataset=dataset, body=body, content_type=request.headers.get("content-type"))
    receipt = await batches.submit(caller, push)
    response.headers["Location"] = f"/sharing/v1/batches/{receipt.batch_id}"
    return receipt


@router.get(
    "/batches/{batch_id}",
    summary="A batch and its per-record outcomes",
    description=(
        "The pushing agency's keys and admin read any of its batches; other `sharing:read` keys only "
        "batches of datasets that are not sensitive. A batch the key may not read is `batch-not-found`, "
        "so that its existence does not leak."
    ),
    responses=problems(BatchNotFound),
)
async def read_batch(
    batch_id: uuid.UUID,
    caller: BatchReader,
    batches: BatchServiceDep,
    outcome: Outcome | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> BatchRead:
    return await batches.read(caller, batch_id, outcome=outcome, limit=limit, cursor=cursor)


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The body, refused with 413 as soon as it outgrows the limit rather than after buffering it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large_bytes(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise too_large_bytes(max_bytes)
    return bytes(body)
