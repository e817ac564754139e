"""Civil affairs (民政) datasets: minimum living guarantee (低保), extreme poverty (特困), veterans."""

from __future__ import annotations

from pydantic import field_validator

from contracts.facts import DibaoAttributes, ExtremePovertyAttributes, VeteranAttributes
from contracts.vocabulary import Agency

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import IdNumber, IsoDate, Text, not_before


class DibaoRecord(AgencyRecord):
    id_number: IdNumber
    household_no: Text | None = None
    since: IsoDate
    until: IsoDate | None = None

    _until_not_before_since = field_validator("until")(not_before("since"))


def dibao_fact(record: DibaoRecord) -> FactContent:
    return FactContent(
        DibaoAttributes(household_no=record.household_no, since=record.since, until=record.until),
        valid_from=record.since,
        valid_until=record.until,
    )


class ExtremePovertyRecord(AgencyRecord):
    id_number: IdNumber
    since: IsoDate
    until: IsoDate | None = None

    _until_not_before_since = field_validator("until")(not_before("since"))


def extreme_poverty_fact(record: ExtremePovertyRecord) -> FactContent:
    return FactContent(
        ExtremePovertyAttributes(since=record.since, until=record.until),
        valid_from=record.since,
        valid_until=record.until,
    )


class VeteranRecord(AgencyRecord):
    id_number: IdNumber
    discharged_on: IsoDate


def veteran_fact(record: VeteranRecord) -> FactContent:
    return FactContent(VeteranAttributes(discharged_on=record.discharged_on), valid_from=record.discharged_on)


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(Agency.civil_affairs, "dibao", "最低生活保障 minimum living guarantee", DibaoRecord, dibao_fact),
    Dataset(
        Agency.civil_affairs,
        "extreme_poverty",
        "特困人员 extreme poverty support",
        ExtremePovertyRecord,
        extreme_poverty_fact,
    ),
    Dataset(Agency.civil_affairs, "veteran", "退役军人 discharged soldiers", VeteranRecord, veteran_fact),
)
