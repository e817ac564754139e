"""What declaring an outward dataset means: its fields (what an agreement may name) and how to look up
the records of a list of persons. Adding one is a module and a line in catalog.py; agreements and
queries do not change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.vocabulary import Agency

Lookup = Callable[[AsyncSession, Collection[str], date], Awaitable[dict[str, dict[str, Any]]]]
"""`lookup(session, subject_refs, today)`: each known subject's record, every field filled."""


@dataclass(frozen=True)
class OutwardDataset:
    agency: Agency
    name: str
    title: str
    fields: Mapping[str, str]
    """Each field an agreement may name, with its description."""
    lookup: Lookup

    @property
    def code(self) -> str:
        return f"{self.agency}/{self.name}"
