"""Public security (公安) datasets: identity and household records, special populations."""

from __future__ import annotations

from typing import Literal

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import AreaCode, IdNumber, IsoDate, Text

AGENCY = "public_security"


class IdentityRecord(AgencyRecord):
    id_number: IdNumber
    name: Text
    hukou_type: Literal["urban", "rural"]
    hukou_area_code: AreaCode
    household_no: Text
    deceased_on: IsoDate | None = None


def identity_fact(record: IdentityRecord) -> FactContent:
    # The name stays here: facts never carry a name (SPEC 1); the registry holds its own.
    return FactContent(
        valid_until=record.deceased_on,
        attributes={
            "hukou_type": record.hukou_type,
            "hukou_area_code": record.hukou_area_code,
            "household_no": record.household_no,
            "deceased_on": record.deceased_on.isoformat() if record.deceased_on else None,
        },
    )


class SpecialPopulationRecord(AgencyRecord):
    id_number: IdNumber
    kind: Literal["released_prisoner", "drug_rehab"]
    since: IsoDate


def special_population_fact(record: SpecialPopulationRecord) -> FactContent:
    return FactContent(valid_from=record.since, attributes={"kind": record.kind, "since": record.since.isoformat()})


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(AGENCY, "identity", "户籍 identity and household", IdentityRecord, identity_fact),
    Dataset(
        AGENCY,
        "special_population",
        "刑满释放 / 戒毒康复 special populations",
        SpecialPopulationRecord,
        special_population_fact,
        # Released prisoners and people in drug rehabilitation: the registry's sensitive categories.
        sensitive=True,
    ),
)
