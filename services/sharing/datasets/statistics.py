"""Statistics bureau (统计局) datasets: aggregates only, keyed by period and naming no person."""

from __future__ import annotations

import calendar
from datetime import date

from pydantic import Field

from contracts.facts import LabourForceAttributes
from contracts.vocabulary import Agency

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import Month, WholeNumber


class LabourForceRecord(AgencyRecord):
    period: Month
    # A district's count: bounded, so a forged figure cannot outgrow what consumers store it in.
    urban_employed_total: WholeNumber = Field(ge=0, le=100_000_000)


def labour_force_fact(record: LabourForceRecord) -> FactContent:
    year, month = (int(part) for part in record.period.split("-"))
    return FactContent(
        LabourForceAttributes(period=record.period, urban_employed_total=record.urban_employed_total),
        valid_from=date(year, month, 1),
        valid_until=date(year, month, calendar.monthrange(year, month)[1]),
    )


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(
        Agency.statistics,
        "labour_force",
        "城镇从业人员 urban employed total per month",
        LabourForceRecord,
        labour_force_fact,
        key_field="period",
        subject_field=None,
    ),
)
