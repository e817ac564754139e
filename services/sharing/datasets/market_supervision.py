"""Market supervision (市场监管) datasets: registered businesses.

A business is keyed by its unified social credit code; its legal representative's id number names
the person the fact is about, so it becomes the fact's `subject_ref` and never leaves raw."""

from __future__ import annotations

from pydantic import field_validator

from contracts.facts import BusinessAttributes
from contracts.vocabulary import Agency

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import CreditCode, IdNumber, IsoDate, Text, not_before


class BusinessRecord(AgencyRecord):
    credit_code: CreditCode
    name: Text
    legal_rep_id_number: IdNumber
    established_on: IsoDate
    deregistered_on: IsoDate | None = None

    _deregistered_not_before_established = field_validator("deregistered_on")(not_before("established_on"))


def business_fact(record: BusinessRecord) -> FactContent:
    return FactContent(
        BusinessAttributes(
            credit_code=record.credit_code,
            name=record.name,
            established_on=record.established_on,
            deregistered_on=record.deregistered_on,
        ),
        valid_from=record.established_on,
        valid_until=record.deregistered_on,
    )


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(
        Agency.market_supervision,
        "business",
        "市场主体 registered businesses",
        BusinessRecord,
        business_fact,
        key_field="credit_code",
        subject_field="legal_rep_id_number",
    ),
)
