"""Public security (公安) datasets: identity and household records, special populations."""

from __future__ import annotations

from typing import Literal

from contracts.facts import IdentityAttributes, SpecialPopulationAttributes
from contracts.vocabulary import Agency, HukouType

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import AreaCode, IdNumber, IsoDate, Text


class IdentityRecord(AgencyRecord):
    id_number: IdNumber
    name: Text
    hukou_type: HukouType
    hukou_area_code: AreaCode
    household_no: Text
    deceased_on: IsoDate | None = None


def identity_fact(record: IdentityRecord) -> FactContent:
    # The name stays here: facts never carry a name (SPEC 1); the registry holds its own.
    return FactContent(
        IdentityAttributes(
            hukou_type=record.hukou_type,
            hukou_area_code=record.hukou_area_code,
            household_no=record.household_no,
            deceased_on=record.deceased_on,
        ),
        valid_until=record.deceased_on,
    )


class SpecialPopulationRecord(AgencyRecord):
    id_number: IdNumber
    kind: Literal["released_prisoner", "drug_rehab"]
    since: IsoDate


def special_population_fact(record: SpecialPopulationRecord) -> FactContent:
    return FactContent(SpecialPopulationAttributes(kind=record.kind, since=record.since), valid_from=record.since)


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(Agency.public_security, "identity", "户籍 identity and household", IdentityRecord, identity_fact),
    Dataset(
        Agency.public_security,
        "special_population",
        "刑满释放 / 戒毒康复 special populations",
        SpecialPopulationRecord,
        special_population_fact,
        # Released prisoners and people in drug rehabilitation: the registry's sensitive categories.
        sensitive=True,
    ),
)
