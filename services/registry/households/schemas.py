"""Response models of the households feature."""

from __future__ import annotations

from datetime import datetime

from contracts.registry import HouseholdSnapshot
from services.kit.pagination import CursorPosition


class HouseholdRead(HouseholdSnapshot):
    updated_at: datetime


class HouseholdsCursor(CursorPosition):
    """Households are listed by household number."""

    household_no: str
