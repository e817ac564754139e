"""Idempotency keys on POST, stored per API client (SPEC 3).

A repeat with the same key and body gets the first response again; the same key with another
body is 422; a repeat while the first is still being handled is 409. The in-flight marker is
leased: if the process died mid-request the key is free again after the lease, and the request
runs anew (one-time effects are guarded by database constraints as well, not by this alone).

The request's own transaction stamps the marker (`committed_at`) just before its COMMIT, so the
marker says whether the change was saved even when the answer was lost. A request whose commit
outcome is unknown (the connection failed during COMMIT) keeps its key until the database answers
again: then the key is freed when the change was not saved, and answers `request-already-applied`
when it was. A key is freed after a 5xx only when nothing was saved.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import BEFORE_COMMIT_HOOKS, Database, UTCDateTime, utcnow
from .errors import (
    COMMITTED_STATE,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    RequestAlreadyApplied,
    is_infrastructure_error,
    unavailable_response,
)
from .identity import Caller

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = (b"content-type", b"location")


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    client_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    method: str
    path: str
    request_hash: str
    status: int | None = None
    headers: str | None = None
    body: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Stamped by the request's own transaction: set means the change was committed.
    committed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


RECORD = IdempotencyRecord.__table__  # type: ignore[attr-defined]
# How long the outcome of a request whose COMMIT failed is looked for before the key is left to its lease.
RESOLVE_FOR_S = 300.0


@dataclass
class _Captured:
    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    messages: list[Message] = field(default_factory=list)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, lease_s: float = 60.0) -> None:
        self.app = app
        self.lease = timedelta(seconds=lease_s)
        self._background: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key_raw = dict(scope["headers"]).get(HEADER)
        caller = scope.get("state", {}).get("caller")
        if key_raw is None or not isinstance(caller, Caller):
            await self.app(scope, receive, send)
            return
        key = key_raw.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            await InvalidIdempotencyKey(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.").response()(
                scope, receive, send
            )
            return

        body = await _read_body(receive)
        request_hash = hashlib.sha256(
            scope["method"].encode() + b" " + scope["path"].encode() + b"\n" + body
        ).hexdigest()
        db: Database = scope["app"].state.db
        client_id = caller.client_id
        try:
            claimed = await self._claim(db, client_id, key, scope, request_hash)
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            await unavailable_response(
                "The service's database is unavailable; nothing was changed. Retry later with the same key."
            )(scope, receive, send)
            return
        if isinstance(claimed, IdempotencyRecord):
            await self._answer_existing(claimed, request_hash, scope, receive, send)
            return

        captured = _Captured()
        state = scope.setdefault("state", {})
        state.setdefault(BEFORE_COMMIT_HOOKS, []).append(_stamp_committed(client_id, key))

        async def replay_receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        # The response is held back until it is stored: a caller that has it may repeat the
        # request at once and must get the replay, not a 409 for a request still "in flight".
        async def capture_send(message: Message) -> None:
            captured.messages.append(message)
            if message["type"] == "http.response.start":
                captured.status = message["status"]
                captured.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                captured.body.extend(message.get("body", b""))

        try:
            await self.app(scope, replay_receive, capture_send)
        except BaseException:
            await self._settle(db, client_id, key, None, committed=bool(state.get(COMMITTED_STATE)))
            raise
        outcome_unknown = captured.status == 503 and b"commit-outcome-unknown" in captured.body
        if outcome_unknown:
            self._in_background(self._resolve(db, client_id, key))
        elif captured.status >= 500:
            await self._settle(db, client_id, key, captured, committed=bool(state.get(COMMITTED_STATE)))
        else:
            try:
                await self._complete(db, client_id, key, captured)
            except Exception as exc:
                # The change is committed and its answer is on its way: keep trying to store it;
                # until then a repeat gets 409 (in flight), never a second run.
                log.warning("idempotent response not stored yet", extra={"error": repr(exc)[:200]})
                self._in_background(self._retry(lambda: self._complete(db, client_id, key, captured)))
        for message in captured.messages:
            await send(message)

    async def _settle(
        self, db: Database, client_id: str, key: str, captured: _Captured | None, *, committed: bool
    ) -> None:
        """After a 5xx: free the key when nothing was saved; store the answer when the change was.
        Tried at once, and in the background while the database is out."""
        step: Callable[[], Awaitable[None]]
        if committed and captured is not None:
            step = lambda: self._complete(db, client_id, key, captured)  # noqa: E731
        elif not committed:
            step = lambda: self._release(db, client_id, key)  # noqa: E731
        else:
            return  # saved, but no answer to store: the lease frees the key
        try:
            await step()
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            self._in_background(self._retry(step))

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _retry(self, step: Callable[[], Awaitable[None]], within_s: float = RESOLVE_FOR_S) -> None:
        delay = 0.2
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            try:
                await step()
                return
            except Exception as exc:
                if asyncio.get_running_loop().time() > deadline or not is_infrastructure_error(exc):
                    log.warning("idempotency key left to its lease", extra={"error": repr(exc)[:200]})
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _resolve(self, db: Database, client_id: str, key: str) -> None:
        """Learn whether a request whose COMMIT failed was saved, from the marker its transaction stamps."""

        async def step() -> None:
            async with db.sessionmaker() as session, session.begin():
                record = await session.get(IdempotencyRecord, (client_id, key))
                if record is None or record.status is not None:
                    return
                if record.committed_at is None:
                    await session.delete(record)
                    return
                problem = RequestAlreadyApplied(
                    "The request with this Idempotency-Key was saved, but its answer was lost when the database "
                    "connection failed; read the resource to see the result."
                ).response()
                record.status = 409
                record.headers = json.dumps({"content-type": "application/problem+json"})
                record.body = bytes(problem.body)
                record.completed_at = utcnow()

        await self._retry(step)

    async def _complete(self, db: Database, client_id: str, key: str, captured: _Captured) -> None:
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in captured.headers if k.lower() in REPLAYED_HEADERS
        }
        async with db.sessionmaker() as session, session.begin():
            record = await session.get(IdempotencyRecord, (client_id, key))
            if record is not None:
                record.status = captured.status
                record.headers = json.dumps(headers)
                record.body = bytes(captured.body)
                record.completed_at = utcnow()

    async def _claim(
        self, db: Database, client_id: str, key: str, scope: Scope, request_hash: str
    ) -> IdempotencyRecord | None:
        """Insert the in-flight marker; return the existing record when the key is taken."""
        async with db.sessionmaker() as session:
            existing = await session.get(IdempotencyRecord, (client_id, key))
            if existing is not None:
                expired = existing.status is None and utcnow() - existing.created_at > self.lease
                # A saved change whose answer was lost never runs a second time, lease or not.
                if not expired or existing.committed_at is not None:
                    return existing
                await session.delete(existing)
                await session.flush()
            session.add(
                IdempotencyRecord(
                    client_id=client_id, key=key, method=scope["method"], path=scope["path"], request_hash=request_hash
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                winner = await session.get(IdempotencyRecord, (client_id, key))
                assert winner is not None
                return winner
        return None

    async def _answer_existing(
        self, record: IdempotencyRecord, request_hash: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if record.request_hash != request_hash:
            response = IdempotencyKeyReused(
                "This Idempotency-Key was used with a different request body or path."
            ).response()
        elif record.status is None and record.committed_at is not None and utcnow() - record.created_at > self.lease:
            response = RequestAlreadyApplied(
                "The request with this Idempotency-Key was saved, but its answer was lost; read the resource "
                "to see the result."
            ).response()
        elif record.status is None:
            response = IdempotencyKeyInFlight(
                "A request with this Idempotency-Key is still being processed; retry later."
            ).response(headers={"Retry-After": "1"})
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": record.status,
                    "headers": [
                        *[(k.encode(), v.encode()) for k, v in json.loads(record.headers or "{}").items()],
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": record.body or b""})
            return
        await response(scope, receive, send)

    async def _release(self, db: Database, client_id: str, key: str) -> None:
        async with db.sessionmaker() as session, session.begin():
            record = await session.get(IdempotencyRecord, (client_id, key))
            if record is not None and record.status is None and record.committed_at is None:
                await session.delete(record)


def _stamp_committed(client_id: str, key: str) -> Callable[[AsyncSession], Awaitable[Any]]:
    async def stamp(session: AsyncSession) -> None:
        await session.execute(
            sa.update(RECORD).where(RECORD.c.client_id == client_id, RECORD.c.key == key).values(committed_at=utcnow())
        )

    return stamp


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
