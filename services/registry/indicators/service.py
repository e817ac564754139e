"""Business rules of the indicators: the period (a year or a month), what is counted at its end, the
rate against the statistics bureau's figure, and each indicator against its year's target."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import Clock

from ..problems import InvalidPeriod, PeriodInFuture
from .repository import IndicatorRepository
from .schemas import DESCRIPTIONS, Indicator, IndicatorCode, IndicatorsRead

_PERIOD = re.compile(r"([0-9]{4})(?:-(0[1-9]|1[0-2]))?")


@dataclass(frozen=True)
class Period:
    text: str
    first: date
    last: date

    @property
    def first_month(self) -> str:
        return self.first.strftime("%Y-%m")


def parse_period(text: str) -> Period:
    match = _PERIOD.fullmatch(text)
    if match is None or int(match.group(1)) < 1900:
        raise InvalidPeriod(f"a period is a year `YYYY` or a month `YYYY-MM`, not {text[:20]!r}")
    year = int(match.group(1))
    if match.group(2) is None:
        return Period(text, date(year, 1, 1), date(year, 12, 31))
    month = int(match.group(2))
    return Period(text, date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))


class IndicatorService:
    def __init__(self, session: AsyncSession, clock: Clock, targets: dict[str, dict[str, float]]) -> None:
        self.session = session
        self.clock = clock
        self.targets = targets
        self.repo = IndicatorRepository(session)

    def target(self, year: int, code: IndicatorCode) -> float | None:
        for key in (str(year), "default"):
            if key in self.targets:
                return self.targets[key].get(code.value)
        return None

    async def read(self, period_text: str, town: str | None, *, counts: dict[str, int] | None = None) -> IndicatorsRead:
        """The period's indicators for a town or (None) the district. `counts`: the period's counts
        as of today, when the caller has them already (the gauges sum them over the towns)."""
        period = parse_period(period_text)
        today = self.clock.today()
        if period.first > today:
            raise PeriodInFuture(f"{period.text} has not begun (the bureau's today is {today})")
        as_of = min(period.last, today)
        if counts is None:
            counts = (await self.repo.counts(period.first, period.last, as_of, by_town=False, town=town)).get(town, {})
        rate: float | None = None
        labour_period: str | None = None
        # The bureau reports for the district only: a town's rate would divide by the wrong figure.
        if town is None:
            figure = await self.repo.labour_force(period.first_month, as_of.strftime("%Y-%m"))
            if figure is not None:
                labour_period = figure.period
                urban = counts.get("registered_urban_unemployed", 0)
                denominator = urban + figure.urban_employed_total
                rate = round(urban / denominator, 6) if denominator else None
        values: dict[IndicatorCode, float | None] = {
            IndicatorCode.new_urban_jobs: counts.get("new_urban_jobs", 0),
            IndicatorCode.registered_unemployed: counts.get("registered_unemployed", 0),
            IndicatorCode.registered_urban_unemployment_rate: rate,
            IndicatorCode.new_entrepreneurs: counts.get("new_entrepreneurs", 0),
            IndicatorCode.trained: counts.get("trained", 0),
        }
        indicators = []
        for code, value in values.items():
            target = self.target(period.first.year, code)
            share = round(value / target, 4) if value is not None and target else None
            indicators.append(
                Indicator(code=code, value=value, target=target, share_of_target=share, description=DESCRIPTIONS[code])
            )
        return IndicatorsRead(
            period=period.text,
            town=town,
            first_day=period.first,
            as_of=as_of,
            labour_force_period=labour_period,
            indicators=indicators,
        )
