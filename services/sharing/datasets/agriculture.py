"""Agriculture (农业农村) datasets: registered poor rural households (建档立卡贫困户)."""

from __future__ import annotations

from pydantic import field_validator

from contracts.facts import RegisteredPoorAttributes
from contracts.vocabulary import Agency

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import IdNumber, IsoDate, Text, not_before


class RegisteredPoorRecord(AgencyRecord):
    id_number: IdNumber
    household_no: Text | None = None
    since: IsoDate
    exited_on: IsoDate | None = None

    _exited_not_before_since = field_validator("exited_on")(not_before("since"))


def registered_poor_fact(record: RegisteredPoorRecord) -> FactContent:
    return FactContent(
        RegisteredPoorAttributes(household_no=record.household_no, since=record.since, exited_on=record.exited_on),
        valid_from=record.since,
        valid_until=record.exited_on,
    )


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(
        Agency.agriculture,
        "registered_poor",
        "建档立卡贫困户 registered poor households",
        RegisteredPoorRecord,
        registered_poor_fact,
    ),
)
