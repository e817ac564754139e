"""The bureau's clock: "today" is the calendar day in Rongchang (China Standard Time, UTC+8 all
year), whatever the host's time zone. Every service reads today and now from a `Clock`; tests
inject a `FixedClock` and move it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated, Protocol

from fastapi import Depends, Request

BUREAU_TZ = timezone(timedelta(hours=8), "CST")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        ...

    def today(self) -> date:
        """The bureau's calendar day."""
        ...


class BureauClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return datetime.now(BUREAU_TZ).date()


class FixedClock:
    """A clock that stands still until moved: for tests of anything that depends on the day."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a FixedClock needs an aware instant")
        self.instant = instant.astimezone(UTC)

    @classmethod
    def on(cls, day: date, at: time = time(9, 0)) -> FixedClock:
        """Office hours of `day` in the bureau's time zone."""
        return cls(datetime.combine(day, at, tzinfo=BUREAU_TZ))

    def now(self) -> datetime:
        return self.instant

    def today(self) -> date:
        return bureau_date(self.instant)

    def advance(self, delta: timedelta) -> None:
        self.instant += delta

    def move_to(self, day: date, at: time = time(9, 0)) -> None:
        self.instant = datetime.combine(day, at, tzinfo=BUREAU_TZ).astimezone(UTC)


class ShiftedClock:
    """The bureau's clock moved by whole days: for rehearsals and end-to-end tests of what the
    calendar changes (settings allow it in development mode only)."""

    def __init__(self, days: int) -> None:
        self.shift = timedelta(days=days)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def today(self) -> date:
        return bureau_date(self.now())


def bureau_date(instant: datetime) -> date:
    """The bureau's calendar day of an instant."""
    return instant.astimezone(BUREAU_TZ).date()


def bureau_midnight(day: date) -> datetime:
    """The instant `day` begins at the bureau, UTC-aware."""
    return datetime.combine(day, time(0, 0), tzinfo=BUREAU_TZ).astimezone(UTC)


SYSTEM_CLOCK: Clock = BureauClock()


def clock_of(offset_days: int) -> Clock:
    """The clock a service runs on: the bureau's, or one moved by `offset_days` (`*_CLOCK_OFFSET_DAYS`)."""
    return ShiftedClock(offset_days) if offset_days else SYSTEM_CLOCK


async def current_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(current_clock)]
"""The app's clock (`create_service_app(..., clock=)`), for routes and service factories."""
