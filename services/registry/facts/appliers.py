"""What each agency dataset's fact does to the registry: one applier per dataset, in one map.

An applier is pure: from a fact's typed attributes it says which difficulty category the fact gives
and for how long (`grants`), and what it changes on the person (`person_update`: household, hukou,
death). The fact handler stores the latest fact per person and dataset and asks the applier; a
category is worked out from the stored facts on the day asked, so it starts and ends with the
calendar. Adding a dataset is its declaration in sharing, its attributes model in contracts.facts
and a line in APPLIERS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import TypeAdapter

from contracts.facts import (
    CapacityReductionAttributes,
    DibaoAttributes,
    DisabilityCertificateAttributes,
    ExtremePovertyAttributes,
    FactAttributes,
    GraduateAttributes,
    IdentityAttributes,
    RegisteredPoorAttributes,
    SpecialPopulationAttributes,
    VeteranAttributes,
)
from contracts.vocabulary import COLLEGE_LEVELS, Category

GRADUATE_WINDOW_YEARS = 2


@dataclass(frozen=True)
class Grant:
    """A category a fact gives, from `valid_from` to `valid_until` inclusive (None: open)."""

    category: Category
    valid_from: date | None
    valid_until: date | None


@dataclass(frozen=True)
class PersonUpdate:
    """What a fact changes on the person's record; None leaves a field alone."""

    household_no: str | None = None
    household_only_if_none: bool = False
    hukou_type: str | None = None
    hukou_area_code: str | None = None
    deceased_on: date | None = None


def years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def graduate_grant(graduated_on: date) -> Grant:
    """`recent_graduate` from leaving school until two years later (离校2年内)."""
    return Grant(Category.recent_graduate, graduated_on, years_later(graduated_on, GRADUATE_WINDOW_YEARS))


class Applier:
    def grants(self, attributes: Any) -> list[Grant]:
        return []

    def person_update(self, attributes: Any) -> PersonUpdate | None:
        return None


class Identity(Applier):
    """公安 户籍: hukou, household and death."""

    def person_update(self, attributes: IdentityAttributes) -> PersonUpdate:
        return PersonUpdate(
            household_no=attributes.household_no,
            hukou_type=attributes.hukou_type.value,
            hukou_area_code=attributes.hukou_area_code,
            deceased_on=attributes.deceased_on,
        )


class SpecialPopulation(Applier):
    def grants(self, attributes: SpecialPopulationAttributes) -> list[Grant]:
        return [Grant(Category(attributes.kind), attributes.since, None)]


class Dibao(Applier):
    def grants(self, attributes: DibaoAttributes) -> list[Grant]:
        return [Grant(Category.low_income_family, attributes.since, attributes.until)]

    def person_update(self, attributes: DibaoAttributes) -> PersonUpdate | None:
        # Civil affairs' household number places a person public security has not reported yet.
        if attributes.household_no is None:
            return None
        return PersonUpdate(household_no=attributes.household_no, household_only_if_none=True)


class ExtremePoverty(Applier):
    def grants(self, attributes: ExtremePovertyAttributes) -> list[Grant]:
        return [Grant(Category.extreme_poverty, attributes.since, attributes.until)]


class Veteran(Applier):
    def grants(self, attributes: VeteranAttributes) -> list[Grant]:
        return [Grant(Category.veteran, attributes.discharged_on, None)]


class DisabilityCertificate(Applier):
    def grants(self, attributes: DisabilityCertificateAttributes) -> list[Grant]:
        return [Grant(Category.disabled, None, attributes.valid_until)]


class Graduate(Applier):
    def grants(self, attributes: GraduateAttributes) -> list[Grant]:
        if attributes.level not in COLLEGE_LEVELS:
            return []
        return [graduate_grant(attributes.graduated_on)]


class RegisteredPoor(Applier):
    def grants(self, attributes: RegisteredPoorAttributes) -> list[Grant]:
        return [Grant(Category.rural_poor, attributes.since, attributes.exited_on)]


class CapacityReduction(Applier):
    def grants(self, attributes: CapacityReductionAttributes) -> list[Grant]:
        return [Grant(Category.capacity_reduction_worker, attributes.since, attributes.until)]


APPLIERS: dict[str, Applier] = {
    "public_security/identity": Identity(),
    "public_security/special_population": SpecialPopulation(),
    "civil_affairs/dibao": Dibao(),
    "civil_affairs/extreme_poverty": ExtremePoverty(),
    "civil_affairs/veteran": Veteran(),
    "disabled_federation/disability_certificate": DisabilityCertificate(),
    "education/graduate": Graduate(),
    "agriculture/registered_poor": RegisteredPoor(),
    "hrss/capacity_reduction": CapacityReduction(),
}
"""Person-keyed datasets the registry applies. `market_supervision/business` is kept in the
registry's list of businesses (facts/handlers.py); `statistics/labour_force` names no person."""

_ATTRIBUTES: TypeAdapter[Any] = TypeAdapter(FactAttributes)


def parse_attributes(dataset: str, stored: dict[str, Any]) -> Any:
    """The typed attributes of a stored fact of `dataset` (`agency/dataset`); rows stored before the
    attributes were typed carry no `dataset` member, so the code the row is filed under names it."""
    return _ATTRIBUTES.validate_python({**stored, "dataset": dataset})


def grants_of(dataset: str, stored: dict[str, Any]) -> list[Grant]:
    applier = APPLIERS.get(dataset)
    return applier.grants(parse_attributes(dataset, stored)) if applier is not None else []


def person_update_of(dataset: str, stored: dict[str, Any]) -> PersonUpdate | None:
    applier = APPLIERS.get(dataset)
    return applier.person_update(parse_attributes(dataset, stored)) if applier is not None else None
