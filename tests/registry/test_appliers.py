"""The pure parts of applying facts: what each dataset gives, who is of working age, which
households are queued, how a name is masked for notices."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.vocabulary import Category, HouseholdKind
from services.registry.facts.appliers import APPLIERS, Grant, grants_of, parse_attributes
from services.registry.households.service import household_kind
from services.registry.persons.categories import is_working_age
from services.registry.persons.protection import mask_name


def test_a_graduate_below_college_level_is_not_a_recent_graduate() -> None:
    school = {"dataset": "education/graduate", "school": "x", "graduated_on": "2026-06-30"}
    assert grants_of("education/graduate", {**school, "level": "senior_high"}) == []
    assert grants_of("education/graduate", {**school, "level": "junior_college"}) == [
        Grant(Category.recent_graduate, date(2026, 6, 30), date(2028, 6, 30))
    ]


def test_an_exit_ends_rural_poverty_and_an_identity_gives_no_category() -> None:
    poor = {"dataset": "agriculture/registered_poor", "since": "2016-01-01", "exited_on": "2020-12-31"}
    assert grants_of("agriculture/registered_poor", poor) == [
        Grant(Category.rural_poor, date(2016, 1, 1), date(2020, 12, 31))
    ]
    identity = {
        "dataset": "public_security/identity",
        "hukou_type": "rural",
        "hukou_area_code": "500226",
        "household_no": "H1",
        "deceased_on": "2026-01-02",
    }
    assert grants_of("public_security/identity", identity) == []
    update = APPLIERS["public_security/identity"].person_update(parse_attributes("public_security/identity", identity))
    assert update is not None and update.deceased_on == date(2026, 1, 2) and update.household_no == "H1"


def test_dibao_places_a_household_only_where_public_security_has_none() -> None:
    dibao = parse_attributes("civil_affairs/dibao", {"household_no": "H2", "since": "2025-01-01"})
    update = APPLIERS["civil_affairs/dibao"].person_update(dibao)
    assert update is not None and update.household_only_if_none


@pytest.mark.parametrize(
    ("gender", "born", "expected"),
    [
        ("male", date(2010, 12, 3), True),  # 16 today
        ("male", date(2010, 12, 4), False),  # 16 tomorrow
        ("male", date(1967, 1, 1), True),  # 59
        ("male", date(1966, 12, 3), False),  # 60 today
        ("female", date(1971, 12, 4), True),  # 54
        ("female", date(1971, 12, 3), False),  # 55 today
    ],
)
def test_working_age_is_16_to_59_for_men_and_16_to_54_for_women(gender: str, born: date, expected: bool) -> None:
    assert is_working_age(gender, born, date(2026, 12, 3)) is expected


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([(True, True, False, False), (True, False, False, False)], HouseholdKind.zero_employment),
        ([(True, True, False, False), (True, False, True, False)], None),  # a working-age member works
        ([(True, False, False, False)], None),  # nobody registered unemployed
        ([(False, True, False, False)], None),  # no working-age member
        ([(True, False, False, True), (False, False, False, False)], HouseholdKind.low_income_all_unemployed),
        ([(True, False, True, True)], None),  # low income but working
    ],
)
def test_which_households_enter_the_queue(
    members: list[tuple[bool, bool, bool, bool]], expected: HouseholdKind | None
) -> None:
    assert household_kind(members) is expected


@pytest.mark.parametrize(
    ("name", "masked"), [("刘晓梅", "刘*梅"), ("刘洋", "刘*"), ("欧阳晓梅", "欧**梅"), ("王", "王*")]
)
def test_a_name_on_a_notice_keeps_its_first_and_last_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_a_fact_stored_before_attributes_were_typed_still_gives_its_category() -> None:
    """Dibao rows the registry kept before this release have no `dataset` member."""
    legacy = {"household_no": "H1", "since": "2024-01-01", "until": None}
    assert grants_of("civil_affairs/dibao", legacy) == [Grant(Category.low_income_family, date(2024, 1, 1), None)]
