"""Routes of batches: agencies push records; submitters and readers look a batch up."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.kit.db import SessionDep
from services.kit.identity import Caller, CallerDep, require_scope
from services.kit.pagination import CursorQuery, LimitQuery

from ..dependencies import SettingsDep
from ..sealing import BatchSealer
from ..settings import SharingSettings
from .parsing import Limits, too_large_bytes
from .schemas import PUSH_REQUEST_BODY, BatchRead, BatchReceipt, Outcome
from .service import SUBMIT_SCOPE, BatchService, Push

router = APIRouter(prefix="/sharing/v1", tags=["batches"])

Submitter = Annotated[Caller, Depends(require_scope(SUBMIT_SCOPE))]


def _service(session: SessionDep, settings: SharingSettings) -> BatchService:
    return BatchService(
        session,
        sealer=BatchSealer(settings.batch_key_bytes),
        subject_key=settings.subject_key_bytes,
        limits=Limits(max_records=settings.max_batch_records, max_bytes=settings.max_batch_bytes),
    )


@router.post(
    "/agencies/{agency}/datasets/{dataset}/records",
    status_code=201,
    summary="Push dataset records (JSON or CSV)",
    description=(
        "Each record is validated against the dataset; accepted ones become facts on `sharing.fact.v1`, "
        "rejected ones come back with every error and are kept with the batch. A key pushes only its own "
        "agency's datasets (admin any). 201 with a Location of the batch, even when every record is rejected."
    ),
    openapi_extra=PUSH_REQUEST_BODY,
)
async def push_records(
    agency: str,
    dataset: str,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: Submitter,
    settings: SettingsDep,
) -> BatchReceipt:
    body = await _read_body(request, settings.max_batch_bytes)
    push = Push(agency=agency, dataset=dataset, body=body, content_type=request.headers.get("content-type"))
    receipt = await _service(session, settings).submit(caller, push)
    response.headers["Location"] = f"/sharing/v1/batches/{receipt.batch_id}"
    return receipt


@router.get("/batches/{batch_id}", summary="A batch and its per-record outcomes")
async def read_batch(
    batch_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    outcome: Outcome | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> BatchRead:
    return await _service(session, settings).read(caller, batch_id, outcome=outcome, limit=limit, cursor=cursor)


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
