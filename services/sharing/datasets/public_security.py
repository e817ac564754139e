"""Public security (公安) datasets: identity and household records, special populations."""

from __future__ import annotations

from typing import Any, Literal

from contracts.facts import IdentityAttributes, SpecialPopulationAttributes
from contracts.sharing import Fact
from contracts.vocabulary import Agency, HukouType
from services.kit.db import utcnow
from services.kit.identifiers import identity_name_digest

from ..tables import SharingIdentity
from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent, Retention
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


def identity_retained(record: IdentityRecord, fact: Fact, subject_key: bytes) -> dict[str, Any]:
    """Identity verification's own copy: a digest of the name, never the name (services/kit/identifiers.py)."""
    return {
        "subject_ref": fact.subject_ref,
        "name_digest": identity_name_digest(subject_key, record.id_number, record.name),
        "deceased_on": record.deceased_on,
        "fact_id": fact.fact_id,
        "recorded_at": utcnow(),
    }


class SpecialPopulationRecord(AgencyRecord):
    id_number: IdNumber
    kind: Literal["released_prisoner", "drug_rehab"]
    since: IsoDate


def special_population_fact(record: SpecialPopulationRecord) -> FactContent:
    return FactContent(SpecialPopulationAttributes(kind=record.kind, since=record.since), valid_from=record.since)


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(
        Agency.public_security,
        "identity",
        "户籍 identity and household",
        IdentityRecord,
        identity_fact,
        retained=Retention(SharingIdentity, ("subject_ref",), identity_retained),
    ),
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
