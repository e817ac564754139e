"""The baseline of issue 2 section 7: a bare FastAPI + asyncpg app whose one POST inserts a row.

Nothing of the platform (no kit, SQLAlchemy, outbox, identity or idempotency): what a single insert
behind FastAPI costs on this machine. Run it as the benchmarks do:

    .venv/bin/uvicorn bench.bare_app:create_app --factory --loop uvloop --http httptools \\
        --no-access-log --host 127.0.0.1 --port 8101

The same route answers at `/rows` and at `/registry/v1/rows`, so one instance can be called
directly and, as the registry's stand-in, through the gateway (which forwards `/registry/v1/*`).
`BENCH_DATABASE_URL` (default postgresql://postgres@127.0.0.1:5432/bench_bare) names the database;
it and its table are created when missing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bench_bare"


class RowIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=1000)


class RowOut(BaseModel):
    id: int


async def _ensure_database(url: str) -> None:
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        base, _, name = url.rpartition("/")
        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await admin.close()
        conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_row ("
            " id bigserial PRIMARY KEY, name text NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now())"
        )
    finally:
        await conn.close()


def create_app() -> FastAPI:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    pool_size = int(os.environ.get("BENCH_POOL_SIZE", "10"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _ensure_database(url)
        app.state.pool = await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    async def insert_row(row: RowIn, request: Request) -> RowOut:
        pool: asyncpg.Pool = request.app.state.pool
        row_id = await pool.fetchval(
            "INSERT INTO bench_row (name, note) VALUES ($1, $2) RETURNING id", row.name, row.note
        )
        return RowOut(id=row_id)

    for path in ("/rows", "/registry/v1/rows"):
        app.add_api_route(path, insert_row, methods=["POST"], status_code=201)
    return app
