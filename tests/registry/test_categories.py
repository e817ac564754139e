"""Which difficulty categories hold today, and which have ended: pure rules, no database."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.persons.categories import (
    CategoryFact,
    active_categories,
    age_on,
    ended_categories,
    fingerprint,
    is_working_age,
    next_calendar_change,
    next_working_age_change,
)
from services.registry.persons.service import own_graduation
from services.registry.tables import Person

TODAY = date(2026, 11, 25)


def dibao(since: date, until: date | None) -> CategoryFact:
    return CategoryFact("low_income_family", "civil_affairs", since, until)


def test_a_fact_holds_from_its_start_until_its_end_inclusive() -> None:
    assert [
        c.category
        for c in active_categories(
            facts=[dibao(date(2024, 1, 1), TODAY)],
            gender="male",
            birth_date=date(1990, 1, 1),
            unemployed_since=None,
            today=TODAY,
        )
    ] == ["low_income_family"]
    assert (
        active_categories(
            facts=[dibao(date(2027, 1, 1), None)],
            gender="male",
            birth_date=date(1990, 1, 1),
            unemployed_since=None,
            today=TODAY,
        )
        == []
    )


def test_an_ended_fact_is_listed_with_its_real_end() -> None:
    [ended] = ended_categories(facts=[dibao(date(2018, 1, 1), date(2018, 2, 28))], today=TODAY)
    assert (ended.category, ended.valid_from, ended.valid_until) == (
        "low_income_family",
        date(2018, 1, 1),
        date(2018, 2, 28),
    )
    assert ended_categories(facts=[dibao(date(2018, 1, 1), None), dibao(date(2018, 1, 1), TODAY)], today=TODAY) == []


def test_age_4050_needs_a_registration_and_the_age() -> None:
    woman = {"gender": "female", "birth_date": date(1980, 3, 1), "facts": [], "today": TODAY}
    assert [c.category for c in active_categories(unemployed_since=date(2026, 1, 5), **woman)] == ["age_4050"]
    assert active_categories(unemployed_since=None, **woman) == []
    man = {"gender": "male", "birth_date": date(1980, 3, 1), "facts": [], "today": TODAY}
    assert active_categories(unemployed_since=date(2026, 1, 5), **man) == []
    [held] = active_categories(unemployed_since=date(2019, 1, 1), **woman)
    assert held.valid_from == date(2020, 3, 1)  # from her 40th birthday, not from the registration


def test_a_fact_without_a_start_shows_the_day_it_was_received_every_day_after() -> None:
    # A disability certificate gives only its end: the category's start must not move with the
    # calendar, or every midnight's sweep would see it changed and publish the person again.
    certificate = CategoryFact("disabled", "disabled_federation", None, date(2030, 6, 30), received_on=TODAY)

    def shown_from(today: date) -> date:
        [held] = active_categories(
            facts=[certificate], gender="female", birth_date=date(1990, 1, 1), unemployed_since=None, today=today
        )
        return held.valid_from

    assert shown_from(TODAY) == shown_from(date(2026, 11, 26)) == shown_from(date(2027, 3, 1)) == TODAY
    # Never after the day it is shown on (a clock set back in a rehearsal, say).
    assert shown_from(date(2026, 11, 1)) == date(2026, 11, 1)


# What the daily sweep relies on: nothing the calendar changes is missed by looking at a person only
# on the day `next_calendar_change` names (and at a household on `next_working_age_change`).
_days = st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31))
_facts = st.lists(
    st.builds(
        CategoryFact,
        st.sampled_from(["low_income_family", "disabled", "recent_graduate"]),
        st.just("agency"),
        st.none() | _days,
        st.none() | _days,
        st.none() | _days,
    ),
    max_size=4,
)


def _fingerprint_on(day: date, **inputs: Any) -> str:
    return fingerprint(
        SimpleNamespace(
            categories=active_categories(today=day, **inputs),
            ended_categories=ended_categories(facts=inputs["facts"], today=day),
        )
    )


@settings(max_examples=300, deadline=None)
@given(
    facts=_facts,
    gender=st.sampled_from(["male", "female"]),
    birth_date=st.dates(min_value=date(1940, 1, 1), max_value=date(2010, 12, 31)),
    unemployed_since=st.none() | _days,
    today=_days,
    ahead=st.integers(min_value=1, max_value=40_000),
)
def test_no_category_changes_before_the_next_calendar_change(
    facts: list[CategoryFact], gender: str, birth_date: date, unemployed_since: date | None, today: date, ahead: int
) -> None:
    inputs = {"facts": facts, "gender": gender, "birth_date": birth_date, "unemployed_since": unemployed_since}
    due = next_calendar_change(today=today, **inputs)
    assert due is None or due > today
    later = today + timedelta(days=ahead)
    if due is None or later < due:
        assert _fingerprint_on(later, **inputs) == _fingerprint_on(today, **inputs)
    # The day before the change, the last day the sweep may skip, is still today's.
    if due is not None and due - timedelta(days=1) > today:
        assert _fingerprint_on(due - timedelta(days=1), **inputs) == _fingerprint_on(today, **inputs)


def test_the_next_calendar_change_names_the_first_day_that_differs() -> None:
    woman = {"gender": "female", "birth_date": date(1986, 12, 8)}
    assert next_calendar_change(facts=[], unemployed_since=date(2026, 11, 1), today=TODAY, **woman) == date(2026, 12, 8)
    assert next_calendar_change(facts=[], unemployed_since=None, today=TODAY, **woman) is None
    expiring = dibao(date(2024, 1, 1), date(2026, 11, 28))
    assert next_calendar_change(facts=[expiring], unemployed_since=None, today=TODAY, **woman) == date(2026, 11, 29)
    starting = dibao(date(2027, 1, 1), None)
    assert next_calendar_change(facts=[starting], unemployed_since=None, today=TODAY, **woman) == date(2027, 1, 1)


@settings(max_examples=300, deadline=None)
@given(
    gender=st.sampled_from(["male", "female"]),
    birth_date=st.dates(min_value=date(1940, 1, 1), max_value=date(2030, 12, 31)),
    today=_days,
)
def test_working_age_changes_exactly_on_the_day_named(gender: str, birth_date: date, today: date) -> None:
    due = next_working_age_change(gender, birth_date, today)
    assert due > today
    now = is_working_age(gender, birth_date, today)
    if due == date.max:
        assert not now and age_on(birth_date, today) > 16
        return
    assert is_working_age(gender, birth_date, due - timedelta(days=1)) == now
    assert is_working_age(gender, birth_date, due) != now


def test_working_age_starts_on_1_march_for_a_29_february_birthday_in_a_common_year() -> None:
    born = date(2009 - 1, 2, 29)  # 2008 was a leap year; 2024 too, 2063 not
    assert next_working_age_change("female", born, date(2024, 1, 1)) == date(2024, 2, 29)
    assert next_working_age_change("female", born, date(2062, 6, 1)) == date(2063, 3, 1)


def test_own_graduation_counts_college_levels_only() -> None:
    july = date(2026, 7, 1)
    assert own_graduation(Person(education="bachelor", graduation_date=july)) == july
    assert own_graduation(Person(education="junior_college", graduation_date=july)) == july
    assert own_graduation(Person(education="senior_high", graduation_date=july)) is None
    assert own_graduation(Person(education=None, graduation_date=july)) is None
    assert own_graduation(Person(education="doctor", graduation_date=None)) is None
