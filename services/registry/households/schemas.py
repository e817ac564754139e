"""Response models of the households feature."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from contracts.registry import HouseholdSnapshot
from services.kit.pagination import CursorPosition
from services.kit.text import SingleLine


class HouseholdRead(HouseholdSnapshot):
    updated_at: datetime


class HouseholdsCursor(CursorPosition):
    """Households are listed by household number."""

    household_no: SingleLine = Field(max_length=64)
