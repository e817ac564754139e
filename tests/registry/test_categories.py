"""Which difficulty categories hold today, and which have ended: pure rules, no database."""

from __future__ import annotations

from datetime import date

from services.registry.persons.categories import CategoryFact, active_categories, ended_categories

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
