"""Civil affairs (民政) datasets: minimum living guarantee (低保), extreme poverty (特困), veterans."""

from __future__ import annotations

from datetime import date

from pydantic import field_validator

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import IdNumber, IsoDate, Text, not_before

AGENCY = "civil_affairs"


class DibaoRecord(AgencyRecord):
    id_number: IdNumber
    household_no: Text | None = None
    since: IsoDate
    until: IsoDate | None = None

    _until_not_before_since = field_validator("until")(not_before("since"))


def dibao_fact(record: DibaoRecord) -> FactContent:
    return FactContent(
        valid_from=record.since,
        valid_until=record.until,
        attributes={
            "household_no": record.household_no,
            "since": record.since.isoformat(),
            "until": _iso(record.until),
        },
    )


class ExtremePovertyRecord(AgencyRecord):
    id_number: IdNumber
    since: IsoDate
    until: IsoDate | None = None

    _until_not_before_since = field_validator("until")(not_before("since"))


def extreme_poverty_fact(record: ExtremePovertyRecord) -> FactContent:
    return FactContent(
        valid_from=record.since,
        valid_until=record.until,
        attributes={"since": record.since.isoformat(), "until": _iso(record.until)},
    )


class VeteranRecord(AgencyRecord):
    id_number: IdNumber
    discharged_on: IsoDate


def veteran_fact(record: VeteranRecord) -> FactContent:
    return FactContent(valid_from=record.discharged_on, attributes={"discharged_on": record.discharged_on.isoformat()})


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(AGENCY, "dibao", "最低生活保障 minimum living guarantee", DibaoRecord, dibao_fact),
    Dataset(AGENCY, "extreme_poverty", "特困人员 extreme poverty support", ExtremePovertyRecord, extreme_poverty_fact),
    Dataset(AGENCY, "veteran", "退役军人 discharged soldiers", VeteranRecord, veteran_fact),
)
