"""Request and response models of warnings."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from contracts.monitoring import EmploymentWarning
from services.kit.fields import Instant
from services.kit.pagination import CursorPosition
from services.kit.text import SingleLine


class WarningClose(BaseModel):
    note: Annotated[SingleLine, Field(min_length=1, max_length=1000)] = Field(
        examples=["已约谈企业，落实稳岗措施 met the employer; job-retention measures agreed"]
    )


class WarningPage(BaseModel):
    items: list[EmploymentWarning]
    next_cursor: str | None = None


class WarningsCursor(CursorPosition):
    raised_at: Instant
    warning_id: uuid.UUID
