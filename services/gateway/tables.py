"""The gateway's tables: API clients with their hashed keys, agencies and scopes."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.kit.db import UTCDateTime, utcnow


class ApiClient(SQLModel, table=True):
    __tablename__ = "gateway_api_client"
    __table_args__ = (sa.Index("ix_gateway_api_client_created", "created_at", "client_id"),)

    client_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    agency: str = Field(max_length=50, index=True)
    # Sorted scope codes of SPEC 3.
    scopes: list[str] = Field(sa_type=sa.JSON)
    # SHA-256 of the whole key (hex); the key itself is never stored.
    key_hash: str = Field(max_length=64, unique=True)
    # The key's first characters, enough for an operator to tell keys apart, useless to an attacker.
    key_prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


TABLES = frozenset({ApiClient.__tablename__})
