"""Which difficulty categories (就业困难人员) hold for a person today, from facts and registry state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol, TypedDict

from contracts.registry import DifficultyCategory
from contracts.vocabulary import Category, Gender

# Working age (SPEC 2.2): men 16-59, women 16-54.
WORKING_AGE_FROM = 16
WORKING_AGE_UNTIL = {Gender.male: 59, Gender.female: 54}
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CategoryFact:
    category: str
    source: str
    valid_from: date | None
    valid_until: date | None
    # The bureau day the fact was received: shown as the start of a category whose fact names none
    # (a disability certificate gives only its end), so the start stays put from one day to the next.
    received_on: date | None = None


def _years_later(born: date, years: int) -> date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # born on 29 February
        return born.replace(year=born.year + years, day=28)


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def is_working_age(gender: str, birth_date: date, today: date, *, until: dict[Gender, int] = WORKING_AGE_UNTIL) -> bool:
    return WORKING_AGE_FROM <= age_on(birth_date, today) <= until[Gender(gender)]


class CategoryInputs(TypedDict):
    """What `active_categories` and `next_calendar_change` read besides the day."""

    facts: list[CategoryFact]
    gender: str
    birth_date: date
    unemployed_since: date | None


class HasCategories(Protocol):
    categories: list[DifficultyCategory]
    ended_categories: list[DifficultyCategory]


def fingerprint(state: HasCategories) -> str:
    """The categories in force and those ended, with their validity: what a person was last published
    with (`Person.published_categories`), compared by the fact handler and the daily sweep."""

    def listed(categories: list[DifficultyCategory]) -> str:
        return ";".join(f"{c.category}:{c.valid_from}:{c.valid_until}" for c in categories)

    return listed(state.categories) + "|" + listed(state.ended_categories)


def active_categories(
    *,
    facts: list[CategoryFact],
    gender: str,
    birth_date: date,
    unemployed_since: date | None,
    today: date,
) -> list[DifficultyCategory]:
    """Categories in force on `today`, sorted by code.

    A fact gives its category from `valid_from` until `valid_until` inclusive; `age_4050` is derived:
    a registered unemployed woman aged 40+ or man aged 50+, from the later of registration and birthday.
    """
    found: dict[str, DifficultyCategory] = {}
    for fact in facts:
        starts = fact.valid_from or date.min
        if starts <= today and (fact.valid_until is None or fact.valid_until >= today):
            found[fact.category] = DifficultyCategory.model_validate(
                {
                    "category": fact.category,
                    "source": fact.source,
                    "valid_from": fact.valid_from or min(fact.received_on or today, today),
                    "valid_until": fact.valid_until,
                }
            )
    if unemployed_since is not None:
        threshold = _years_later(birth_date, 40 if gender == "female" else 50)
        if threshold <= today:
            found[Category.age_4050] = DifficultyCategory(
                category=Category.age_4050, source="registry", valid_from=max(threshold, unemployed_since)
            )
    return [found[code] for code in sorted(found)]


def next_calendar_change(
    *,
    facts: list[CategoryFact],
    gender: str,
    birth_date: date,
    unemployed_since: date | None,
    today: date,
) -> date | None:
    """The first day after `today` on which the calendar alone may change what `active_categories`
    and `ended_categories` give for these inputs (a fact's start, the day after its end, the 40th or
    50th birthday of a registered unemployed person); None when no day will. Before that day the
    person's fingerprint stays as it is today, so the daily sweep need not look at them."""
    days = [fact.valid_from for fact in facts if fact.valid_from is not None and fact.valid_from > today]
    days += [fact.valid_until + _ONE_DAY for fact in facts if fact.valid_until and fact.valid_until >= today]
    if any(fact.valid_from is None and (fact.received_on is None or fact.received_on > today) for fact in facts):
        days.append(today + _ONE_DAY)  # shown from today, a day later each day (a clock set back, say)
    if unemployed_since is not None:
        threshold = _years_later(birth_date, 40 if gender == "female" else 50)
        if threshold > today:
            days.append(threshold)
    return min(days, default=None)


def next_working_age_change(gender: str, birth_date: date, today: date) -> date:
    """The first day after `today` on which `is_working_age` changes for this person: the 16th
    birthday, or the birthday after the working age's last year."""
    for years in (WORKING_AGE_FROM, WORKING_AGE_UNTIL[Gender(gender)] + 1):
        # The day `age_on` reaches `years`: 1 March for someone born on 29 February, in a common year.
        birthday = _years_later(birth_date, years)
        if age_on(birth_date, birthday) < years:
            birthday += _ONE_DAY
        if birthday > today:
            return birthday
    return date.max


def ended_categories(*, facts: list[CategoryFact], today: date) -> list[DifficultyCategory]:
    """Categories whose latest fact ended before `today`, with that end date, sorted by code."""
    ended = [
        DifficultyCategory(
            category=fact.category,
            source=fact.source,
            valid_from=fact.valid_from or fact.valid_until,
            valid_until=fact.valid_until,
        )
        for fact in facts
        if fact.valid_until is not None and fact.valid_until < today
    ]
    return sorted(ended, key=lambda c: c.category)
