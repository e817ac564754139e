"""Database outages at the HTTP edge, on real PostgreSQL: a request that meets one answers 503 with
Retry-After and changes nothing; a COMMIT whose outcome is unknown says so and keeps its
Idempotency-Key until the outcome is known; a saved change is never run twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from services.kit.app import ServiceDefinition, create_service_app
from services.kit.db import BEFORE_COMMIT_HOOKS, SessionDep, utcnow
from services.kit.errors import is_infrastructure_error
from services.kit.idempotency import IdempotencyRecord
from services.kit.settings import ServiceSettings
from tests.support import (
    PG_ADMIN_DSN,
    PostgresDatabases,
    ServiceClient,
    database_name,
    database_outage,
    eventually,
    execute,
    query,
    running,
)

pytestmark = pytest.mark.integration

NOTES = sa.table("outage_note", sa.column("id", sa.String), sa.column("text", sa.String))


class Note(BaseModel):
    text: str


router = APIRouter(prefix="/notes/v1")
_cut: set[str] = set()  # notes whose first COMMIT has been cut


@router.post("/notes", status_code=201)
async def write_note(note: Note, session: SessionDep, request: Request) -> dict[str, str]:
    note_id = uuid.uuid4().hex
    await session.execute(sa.insert(NOTES).values(id=note_id, text=note.text))
    if note.text.startswith("cut-at-commit") and note.text not in _cut:
        _cut.add(note.text)
        # Everything but the COMMIT has gone out; the connection dies before the COMMIT does.
        request.scope["state"].setdefault(BEFORE_COMMIT_HOOKS, []).append(_terminate_own_backend)
    return {"note_id": note_id}


async def _terminate_own_backend(session: object) -> None:
    pid = (await session.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()  # type: ignore[attr-defined]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def notes(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[tuple[ServiceClient, str]]:
    url = await databases.migrated("registry")
    await execute(url, "CREATE TABLE outage_note (id text PRIMARY KEY, text text NOT NULL)")
    settings = ServiceSettings(database_url=url, kafka_bootstrap_servers=kafka_bootstrap)
    app = create_service_app(ServiceDefinition(name="notes", title="Notes", description="", routers=[router]), settings)
    async with running(app) as client:
        yield client, url


async def count_notes(url: str, text: str) -> int:
    return int((await query(url, "SELECT count(*) AS n FROM outage_note WHERE text = $1", text))[0]["n"])


def test_connection_and_availability_failures_are_infrastructure() -> None:
    refused = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    too_many = asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
    assert is_infrastructure_error(DBAPIError("SELECT 1", {}, refused))
    assert is_infrastructure_error(DBAPIError("SELECT 1", {}, too_many))
    assert is_infrastructure_error(DBAPIError("SELECT 1", {}, ConnectionResetError()))
    assert is_infrastructure_error(OperationalError("BEGIN", {}, Exception("database is locked")))
    assert is_infrastructure_error(KafkaConnectionError("broker gone"))
    assert is_infrastructure_error(NodeNotReadyError("not ready"))
    unique = asyncpg.exceptions.UniqueViolationError("duplicate key value")
    assert not is_infrastructure_error(IntegrityError("INSERT", {}, unique))
    assert not is_infrastructure_error(DBAPIError("SELECT x", {}, asyncpg.exceptions.UndefinedColumnError("x")))
    assert not is_infrastructure_error(ValueError("bad payload"))


async def test_a_request_during_an_outage_answers_503_and_changes_nothing(notes: tuple[ServiceClient, str]) -> None:
    client, url = notes
    key = {"Idempotency-Key": uuid.uuid4().hex}
    async with database_outage(database_name(url)):
        during = await client.post("/notes/v1/notes", json={"text": "during"}, headers=key)
        keyless = await client.post("/notes/v1/notes", json={"text": "during"})
        ready = await client.get("/readyz")
    assert keyless.status_code == 503, keyless.text
    assert keyless.json()["type"].endswith(":unavailable")
    assert during.status_code == 503, during.text
    assert during.headers["content-type"] == "application/problem+json"
    assert during.headers["retry-after"].isdigit()
    assert "nothing was changed" in during.json()["detail"]
    assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unreachable")
    assert await count_notes(url, "during") == 0

    # Back again: the same key runs the request (it was not stuck), once.
    async def accepted() -> bool:
        again = await client.post("/notes/v1/notes", json={"text": "during"}, headers=key)
        return again.status_code == 201

    await eventually(accepted, within=30)
    assert await count_notes(url, "during") == 1
    assert (await client.get("/readyz")).status_code == 200


async def test_a_commit_with_an_unknown_outcome_says_so_and_keeps_its_key_until_known(
    notes: tuple[ServiceClient, str],
) -> None:
    client, url = notes
    key = {"Idempotency-Key": uuid.uuid4().hex}
    text = f"cut-at-commit {uuid.uuid4().hex[:6]}"
    cut = await client.post("/notes/v1/notes", json={"text": text}, headers=key)
    assert cut.status_code == 503, cut.text
    assert cut.json()["type"].endswith(":commit-outcome-unknown")
    assert cut.headers["retry-after"].isdigit()
    assert await count_notes(url, text) == 0  # the COMMIT never reached the server

    # The key is freed once the outcome (not saved) is known; the repeat then runs the request.
    async def ran_again() -> bool:
        again = await client.post("/notes/v1/notes", json={"text": text}, headers=key)
        assert again.status_code in (201, 409), again.text
        return again.status_code == 201

    await eventually(ran_again, within=30)
    assert await count_notes(url, text) == 1


async def test_a_saved_change_whose_answer_was_lost_is_never_run_again(
    notes: tuple[ServiceClient, str], databases: PostgresDatabases
) -> None:
    client, url = notes
    key = uuid.uuid4().hex
    first = await client.post("/notes/v1/notes", json={"text": "lost answer"}, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    # As the database holds it when the process died after the COMMIT, before storing the answer,
    # and the in-flight lease has run out.
    updated = await execute(
        url,
        "UPDATE idempotency_record SET status = NULL, body = NULL, completed_at = NULL, created_at = $1 "
        "WHERE key = $2 AND committed_at IS NOT NULL",
        utcnow() - timedelta(hours=1),
        key,
    )
    assert updated == "UPDATE 1", IdempotencyRecord.__tablename__
    again = await client.post("/notes/v1/notes", json={"text": "lost answer"}, headers={"Idempotency-Key": key})
    assert again.status_code == 409
    assert again.json()["type"].endswith(":request-already-applied")
    assert await count_notes(url, "lost answer") == 1
