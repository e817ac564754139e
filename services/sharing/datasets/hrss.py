"""The bureau's own (人社) datasets: workers of enterprises cutting excess capacity (去产能)."""

from __future__ import annotations

from pydantic import field_validator

from contracts.facts import CapacityReductionAttributes
from contracts.vocabulary import Agency

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import CreditCode, IdNumber, IsoDate, not_before


class CapacityReductionRecord(AgencyRecord):
    id_number: IdNumber
    employer_credit_code: CreditCode
    since: IsoDate
    until: IsoDate | None = None

    _until_not_before_since = field_validator("until")(not_before("since"))


def capacity_reduction_fact(record: CapacityReductionRecord) -> FactContent:
    return FactContent(
        CapacityReductionAttributes(
            employer_credit_code=record.employer_credit_code, since=record.since, until=record.until
        ),
        valid_from=record.since,
        valid_until=record.until,
    )


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(
        Agency.hrss,
        "capacity_reduction",
        "去产能企业职工 workers of enterprises cutting excess capacity",
        CapacityReductionRecord,
        capacity_reduction_fact,
    ),
)
