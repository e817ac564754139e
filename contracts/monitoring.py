"""The payload the registry publishes on `monitoring.warning.v1`: large-scale unemployment warnings
(规模性失业风险预警, SPEC 2.5), raised when an employer's separations within 30 days cross a tier
upward, and closed by a bureau operator."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

WARNING_RAISED = "monitoring.warning.raised"
WARNING_CLOSED = "monitoring.warning.closed"


class WarningLevel(StrEnum):
    """Tiers, lowest first."""

    blue = "blue"
    yellow = "yellow"
    orange = "orange"
    red = "red"


class WarningStatus(StrEnum):
    open = "open"
    closed = "closed"


class EmploymentWarning(BaseModel):
    warning_id: uuid.UUID
    employer_credit_code: str
    employer_name: str
    level: WarningLevel
    separations_30d: int = Field(description="Separations at the employer in the 30 days to `as_of` when raised")
    threshold: int = Field(description="The tier's threshold that was crossed")
    as_of: date = Field(description="The bureau's day the separations were counted to")
    raised_at: datetime
    status: WarningStatus
    closed_at: datetime | None = None
    note: str | None = Field(default=None, description="The operator's note on closing")
