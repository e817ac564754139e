"""The indicators of the bureau's current year, per town and for the district, the persons
registered (living) per town, and the open warnings by level, as Prometheus gauges, counted from
the database on a timer so every replica reports the same figures. Town labels are a bounded set
(REGISTRY_TOWNS, `other` for any other town, `all` for the district)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import Gauge
from sqlmodel import col

from contracts.monitoring import WarningLevel, WarningStatus
from services.kit.clock import Clock
from services.kit.db import Database, serial_plans

from ..settings import RegistrySettings
from ..tables import EmploymentWarning as WarningRow
from ..tables import Person
from .repository import IndicatorRepository
from .schemas import IndicatorCode
from .service import IndicatorService, parse_period

log = logging.getLogger(__name__)

INDICATOR = Gauge(
    "registry_indicator",
    "The plan's indicators for the bureau's current year (the rate as a fraction), per town and for `all`",
    ["code", "town"],
)
INDICATOR_TARGET = Gauge("registry_indicator_target", "The current year's target of each indicator", ["code"])
PERSONS = Gauge("registry_persons", "Persons registered and living, per town and for `all`", ["town"])
WARNINGS_OPEN = Gauge("registry_warnings_open", "Open large-scale unemployment warnings, by level", ["level"])
COUNTED = {code.value for code in IndicatorCode} - {IndicatorCode.registered_urban_unemployment_rate.value}
OTHER_TOWN, ALL_TOWNS = "other", "all"


class LatestFirst:
    """Which of overlapping refreshes may set the gauges: the one begun last, whatever order they end
    in. A refresh begun before another (the timer's, say, beside one a test or a tool asks for) but
    ending after it would otherwise put older counts back. (One begun first that reads last is
    dropped too: the gauges then wait for the next round.)"""

    def __init__(self) -> None:
        self._begun = 0
        self._set = 0

    def begin(self) -> int:
        self._begun += 1
        return self._begun

    def may_set(self, ticket: int) -> bool:
        if ticket < self._set:
            return False
        self._set = ticket
        return True


ORDER = LatestFirst()


async def refresh(db: Database, settings: RegistrySettings, clock: Clock) -> None:
    ticket = ORDER.begin()
    today = clock.today()
    period = parse_period(str(today.year))
    towns = set(settings.towns)
    async with db.sessionmaker() as session:
        await serial_plans(session)
        by_town = await IndicatorRepository(session).counts(period.first, period.last, today, by_town=True, town=None)
        # The district's counts are the towns' summed (a person is counted in one town, or under
        # None): the same figures without counting again.
        district_counts: Counter[str] = Counter()
        for counts in by_town.values():
            district_counts.update(counts)
        district = await IndicatorService(session, clock, settings.indicator_targets).read(
            period.text, None, counts=district_counts
        )
        open_by_level = dict(
            (
                await session.execute(
                    sa.select(col(WarningRow.level), sa.func.count())
                    .where(col(WarningRow.status) == WarningStatus.open.value)
                    .group_by(col(WarningRow.level))
                )
            ).all()
        )
        persons_by_town = dict(
            (
                await session.execute(
                    sa.select(col(Person.town), sa.func.count())
                    .where(col(Person.deceased_on).is_(None))
                    .group_by(col(Person.town))
                )
            ).all()
        )
    if not ORDER.may_set(ticket):
        return
    persons = dict.fromkeys([*towns, OTHER_TOWN], 0)
    for town, count in persons_by_town.items():
        persons[town if town in towns else OTHER_TOWN] += count
    for label, count in persons.items():
        PERSONS.labels(label).set(count)
    PERSONS.labels(ALL_TOWNS).set(sum(persons.values()))
    for level in WarningLevel:
        WARNINGS_OPEN.labels(level.value).set(open_by_level.get(level.value, 0))
    totals: dict[tuple[str, str], float] = {(code, label): 0.0 for code in COUNTED for label in [*towns, OTHER_TOWN]}
    for town, counts in by_town.items():
        label = town if town in towns else OTHER_TOWN
        for code in COUNTED:
            totals[(code, label)] += counts.get(code, 0)
    for (code, label), value in totals.items():
        INDICATOR.labels(code, label).set(value)
    for indicator in district.indicators:
        if indicator.value is not None:
            INDICATOR.labels(indicator.code.value, ALL_TOWNS).set(indicator.value)
        if indicator.target is not None:
            INDICATOR_TARGET.labels(indicator.code.value).set(indicator.target)


async def keep_indicators_fresh(app: FastAPI) -> None:
    settings: RegistrySettings = app.state.settings
    while True:
        try:
            await refresh(app.state.db, settings, app.state.clock)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("indicator gauges not refreshed; retrying")
        await asyncio.sleep(settings.indicators_interval_s)
