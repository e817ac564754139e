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
    """`open` until a bureau operator closes the warning."""

    open = "open"
    closed = "closed"


class EmploymentWarning(BaseModel):
    """A large-scale unemployment warning about one employer; it names the employer, never a person."""

    warning_id: uuid.UUID = Field(
        description="The warning's id, as listed by `GET /registry/v1/warnings` and closed by "
        "`POST /registry/v1/warnings/{warning_id}/close`"
    )
    employer_credit_code: str = Field(
        description="The employer's unified social credit code (GB 32100, 18 characters); also the Kafka key"
    )
    employer_name: str = Field(description="The employer's name as recorded on the employment whose end raised it")
    level: WarningLevel = Field(
        description="The tier crossed: `blue`, `yellow`, `orange` or `red` (lowest first); raised once per tier "
        "per episode"
    )
    separations_30d: int = Field(
        description="Separations (ends other than retirement or death) at the employer in the 30 days up to and "
        "including `as_of` (the window is configurable, 30 by default), counted when raised"
    )
    threshold: int = Field(
        description="The configured threshold of `level` that was crossed (defaults: blue 20, yellow 50, orange "
        "100, red 200)"
    )
    as_of: date = Field(description="The bureau's calendar day (Asia/Shanghai) the separations were counted to")
    raised_at: datetime = Field(description="When the warning was raised: an instant, sent in UTC")
    status: WarningStatus = Field(description="`open` when raised; `closed` once a bureau operator has closed it")
    closed_at: datetime | None = Field(
        default=None, description="When an operator closed it (an instant, sent in UTC); null while `open`"
    )
    note: str | None = Field(default=None, description="The operator's note on closing (free text); null while `open`")
