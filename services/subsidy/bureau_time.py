"""The bureau's calendar: dates (today, budget years) are those of Rongchang, UTC+8 all year."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

BUREAU_TZ = timezone(timedelta(hours=8), "CST")


def bureau_today() -> date:
    return datetime.now(BUREAU_TZ).date()


def bureau_date(instant: datetime) -> date:
    return instant.astimezone(BUREAU_TZ).date()
