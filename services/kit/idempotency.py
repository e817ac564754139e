"""Idempotency keys on POST, stored per API client (SPEC 3).

A repeat with the same key and body gets the first response again; the same key with another
body is 422; a repeat while the first is still being handled is 409. The in-flight marker is
leased: if the process died mid-request the key is free again after the lease, and the request
runs anew (one-time effects are guarded by database constraints as well, not by this alone).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import Database, UTCDateTime, utcnow
from .errors import problem_response
from .identity import Caller

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
            await problem_response(
                400,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            )(scope, receive, send)
            return

        body = await _read_body(receive)
        request_hash = hashlib.sha256(
            scope["method"].encode() + b" " + scope["path"].encode() + b"\n" + body
        ).hexdigest()
        db: Database = scope["app"].state.db
        claimed = await self._claim(db, caller.client_id, key, scope, request_hash)
        if isinstance(claimed, IdempotencyRecord):
            await self._answer_existing(claimed, request_hash, scope, receive, send)
            return

        captured = _Captured()

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
            if captured.status >= 500:
                await self._release(db, caller.client_id, key)
            else:
                await self._complete(db, caller.client_id, key, captured)
        except BaseException:
            await self._release(db, caller.client_id, key)
            raise
        for message in captured.messages:
            await send(message)

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
                if not expired:
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
            response = problem_response(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "This Idempotency-Key was used with a different request body or path.",
            )
        elif record.status is None:
            response = problem_response(
                409,
                "idempotency-key-in-flight",
                "Request in flight",
                "A request with this Idempotency-Key is still being processed; retry later.",
                headers={"Retry-After": "1"},
            )
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
            if record is not None and record.status is None:
                await session.delete(record)


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
