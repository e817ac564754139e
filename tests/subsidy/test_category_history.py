"""How the subsidy projection keeps a person's category history from successive snapshots
(`record_categories`): pure logic, no database."""

from __future__ import annotations

from datetime import date

from contracts.registry import PersonSnapshot
from services.subsidy.projections.handlers import record_categories
from services.subsidy.projections.repository import CategoryKey, Listed
from tests.subsidy.scenario import category, eligible_hire

DAY = date(2026, 12, 1)


def snapshot(version: int, *listed: str, ended: tuple[str, date] | None = None) -> PersonSnapshot:
    person = eligible_hire().person
    return person.model_copy(
        update={
            "version": version,
            "difficulty_categories": [category(code) for code in listed],
            "ended_difficulty_categories": [] if ended is None else [category(ended[0], valid_until=ended[1])],
        }
    )


def key(code: str) -> CategoryKey:
    c = category(code)
    return (c.category, c.source, c.valid_from)


def test_a_new_category_is_kept_as_listed_and_reported_changed() -> None:
    history: dict[CategoryKey, Listed] = {}
    changed = record_categories(history, snapshot(1, "disabled"), DAY)
    assert changed == {key("disabled")}
    assert history == {key("disabled"): Listed(None, None, 1)}


def test_a_category_no_longer_listed_is_withdrawn_on_the_publishing_day_once() -> None:
    history: dict[CategoryKey, Listed] = {}
    record_categories(history, snapshot(1, "disabled", "zero_employment_family"), DAY)
    changed = record_categories(history, snapshot(2, "disabled"), date(2026, 12, 2))
    assert changed == {key("disabled"), key("zero_employment_family")}
    assert history[key("zero_employment_family")] == Listed(None, date(2026, 12, 2), 1)
    # A later snapshot without it neither moves the withdrawal nor reports the row changed.
    changed = record_categories(history, snapshot(3, "disabled"), date(2026, 12, 5))
    assert changed == {key("disabled")}
    assert history[key("zero_employment_family")].withdrawn_on == date(2026, 12, 2)
    assert history[key("disabled")] == Listed(None, None, 3)


def test_a_category_listed_again_is_no_longer_withdrawn() -> None:
    history: dict[CategoryKey, Listed] = {}
    record_categories(history, snapshot(1, "disabled"), DAY)
    record_categories(history, snapshot(2), date(2026, 12, 2))
    changed = record_categories(history, snapshot(3, "disabled"), date(2026, 12, 3))
    assert changed == {key("disabled")}
    assert history[key("disabled")] == Listed(None, None, 3)


def test_an_ended_category_is_kept_with_its_real_end_not_withdrawn() -> None:
    history: dict[CategoryKey, Listed] = {}
    record_categories(history, snapshot(1, "disabled"), DAY)
    record_categories(history, snapshot(2, ended=("disabled", date(2026, 11, 20))), date(2026, 12, 2))
    assert history[key("disabled")] == Listed(date(2026, 11, 20), None, 2)
