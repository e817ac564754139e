"""The hiring_key_groups rules, pure: each rule failing alone, the five key groups, the boundaries of
the twelve months, and properties checked against a brute-force reading."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.registry import ContributionMonth, EmploymentSnapshot, PersonSnapshot, UnemploymentRegistrationState
from services.subsidy.programmes.hiring_key_groups import HiringEvidence, HiringKeyGroups, key_groups
from services.subsidy.programmes.rules import CategoryRecord, Check, Grant, add_months, full_months, held_category

EMPLOYER = "91500226MA5U7K3X2" + "0"
OTHER_EMPLOYER = "91500226MA5U7K3X3" + "0"
HIRED = date(2018, 4, 1)
TODAY = date(2019, 6, 1)
PERSON = uuid.uuid4()


def months(first: str, count: int, insurances: tuple[str, ...] = ("pension",)) -> list[ContributionMonth]:
    year, month = int(first[:4]), int(first[5:])
    return [
        ContributionMonth.model_validate(
            {"month": f"{year + (month - 1 + i) // 12:04d}-{(month - 1 + i) % 12 + 1:02d}", "insurances": insurances}
        )
        for i in range(count)
    ]


def registration(registered_on: date, closed_on: date | None) -> UnemploymentRegistrationState:
    return UnemploymentRegistrationState(registration_id=uuid.uuid4(), registered_on=registered_on, closed_on=closed_on)


def person(**changes: Any) -> PersonSnapshot:
    base = PersonSnapshot(
        person_id=PERSON,
        subject_ref="f" * 64,
        version=3,
        name_masked="李*",
        gender="male",
        birth_year=1996,
        hukou_type="urban",
        status="employed",
        difficulty_categories=[],
        unemployment_registrations=[registration(date(2018, 2, 1), HIRED)],
    )
    return base.model_copy(update=changes)


def employment(**changes: Any) -> EmploymentSnapshot:
    base = EmploymentSnapshot(
        employment_id=uuid.uuid4(),
        person_id=PERSON,
        version=2,
        employer_credit_code=EMPLOYER,
        employer_name="荣昌夏布厂",
        kind="employee",
        started_on=HIRED,
        contribution_months=months("2018-04", 12),
    )
    return base.model_copy(update=changes)


def held(*codes: str, valid_from: date = date(2017, 1, 1), **more: Any) -> list[CategoryRecord]:
    def source(code: str) -> str:
        return "restricted" if code == "restricted_difficulty" else "civil_affairs"

    return [CategoryRecord(held_category(code), source(code), valid_from, **more) for code in codes]


def evaluate(
    *,
    beneficiary: PersonSnapshot | None = None,
    categories: list[CategoryRecord] | None = None,
    job: EmploymentSnapshot | None = None,
    employer: str = EMPLOYER,
    earlier: list[Grant] | None = None,
    today: date = TODAY,
) -> list[Check]:
    evidence = HiringEvidence(
        beneficiary or person(),
        held("low_income_family") if categories is None else categories,
        job or employment(),
        employer,
        earlier or [],
    )
    return HiringKeyGroups().checks(evidence, today)


def paid(application_id: uuid.UUID, on: date) -> Grant:
    return Grant("once", application_id, "paid", on)


def failed(checks: list[Check]) -> set[str]:
    return {c.rule for c in checks if not c.passed}


def test_an_eligible_hire_passes_every_rule_with_its_evidence() -> None:
    checks = evaluate()
    assert [c.rule for c in checks] == [
        "employment_of_beneficiary",
        "employment_with_applicant",
        "hired_as_employee",
        "registered_unemployed_when_hired",
        "key_group",
        "employed_12_months",
        "insured_12_months",
        "never_paid_before",
        "alive",
    ]
    assert failed(checks) == set()
    detail = {c.rule: c.detail for c in checks}
    assert "registered 2018-02-01, closed 2018-04-01" in detail["registered_unemployed_when_hired"]
    assert "key group low_income_family" in detail["key_group"]
    assert "civil_affairs, 2017-01-01..open" in detail["key_group"]
    assert "14 full months" in detail["employed_12_months"]
    assert "12 months paid in this employment (2018-04..2019-03" in detail["insured_12_months"]
    assert "no death recorded" in detail["alive"]


ALONE: dict[str, Callable[[], list[Check]]] = {
    "employment_of_beneficiary": lambda: evaluate(job=employment(person_id=uuid.uuid4())),
    "employment_with_applicant": lambda: evaluate(employer=OTHER_EMPLOYER),
    "hired_as_employee": lambda: evaluate(job=employment(kind="flexible")),
    "registered_unemployed_when_hired": lambda: evaluate(beneficiary=person(unemployment_registrations=[])),
    "key_group": lambda: evaluate(categories=held("age_4050", "veteran")),
    "employed_12_months": lambda: evaluate(
        job=employment(started_on=date(2018, 4, 15), ended_on=date(2019, 4, 13)),
        beneficiary=person(unemployment_registrations=[registration(date(2018, 2, 1), date(2018, 4, 15))]),
    ),
    "insured_12_months": lambda: evaluate(job=employment(contribution_months=months("2018-04", 11))),
    "never_paid_before": lambda: evaluate(earlier=[paid(uuid.uuid4(), date(2019, 5, 2))]),
    "alive": lambda: evaluate(beneficiary=person(deceased_on=date(2019, 5, 30))),
}


@pytest.mark.parametrize("rule", sorted(ALONE))
def test_each_rule_fails_alone(rule: str) -> None:
    checks = ALONE[rule]()
    assert failed(checks) == {rule}


def detail_of(checks: list[Check], rule: str) -> str:
    return next(c.detail for c in checks if c.rule == rule)


def test_failed_checks_name_their_evidence() -> None:
    other = uuid.uuid4()
    assert f"belongs to person {other}" in detail_of(
        evaluate(job=employment(person_id=other)), "employment_of_beneficiary"
    )
    assert f"not with the applicant {OTHER_EMPLOYER}" in detail_of(
        evaluate(employer=OTHER_EMPLOYER), "employment_with_applicant"
    )
    grant = uuid.uuid4()
    assert f"application {grant} paid 2019-05-02" in detail_of(
        evaluate(earlier=[paid(grant, date(2019, 5, 2))]), "never_paid_before"
    )
    assert "deceased on 2019-05-30" in detail_of(evaluate(beneficiary=person(deceased_on=date(2019, 5, 30))), "alive")
    short = evaluate(job=employment(ended_on=date(2018, 10, 31), contribution_months=months("2018-04", 7)))
    assert "ended 2018-10-31: 7 full months (12 needed)" in detail_of(short, "employed_12_months")
    assert "7 months paid" in detail_of(short, "insured_12_months")


@pytest.mark.parametrize(
    ("registrations", "passes"),
    [
        ([registration(date(2018, 2, 1), None)], True),  # still open on the hiring date
        ([registration(HIRED, HIRED)], True),  # registered and closed on the hiring day itself
        ([registration(date(2018, 4, 2), None)], False),  # registered only after hiring
        ([registration(date(2017, 1, 1), date(2018, 3, 31))], False),  # closed the day before hiring
        ([registration(date(2017, 1, 1), date(2017, 6, 1)), registration(date(2018, 3, 1), None)], True),
        ([], False),
    ],
)
def test_registered_unemployed_when_hired(registrations: list[UnemploymentRegistrationState], passes: bool) -> None:
    checks = evaluate(beneficiary=person(unemployment_registrations=registrations))
    assert failed(checks) == (set() if passes else {"registered_unemployed_when_hired"})


@pytest.mark.parametrize(
    ("codes", "groups"),
    [
        (("recent_graduate", "disabled"), ["poor_recent_graduate"]),
        (("recent_graduate", "extreme_poverty"), ["poor_recent_graduate"]),
        (("recent_graduate", "low_income_family"), ["poor_recent_graduate", "low_income_family"]),
        (("recent_graduate", "rural_poor"), ["poor_recent_graduate", "rural_poor"]),
        (("low_income_family",), ["low_income_family"]),
        (("zero_employment_family",), ["zero_employment_family"]),
        (("rural_poor",), ["rural_poor"]),
        (("capacity_reduction_worker", "age_4050"), ["capacity_reduction_worker"]),
        # A sensitive category, published only as restricted_difficulty, is a difficulty all the same.
        (("capacity_reduction_worker", "restricted_difficulty"), ["capacity_reduction_worker"]),
        # Not a key group: a graduate who is not poor, a capacity-reduction worker with no
        # difficulty besides, and difficulty categories outside the five groups.
        (("recent_graduate",), []),
        (("recent_graduate", "veteran"), []),
        (("capacity_reduction_worker",), []),
        # ... but none of the named categories the other groups ask for.
        (("restricted_difficulty",), []),
        (("recent_graduate", "restricted_difficulty"), []),
        (("disabled", "extreme_poverty", "age_4050", "veteran"), []),
        ((), []),
    ],
)
def test_the_five_key_groups(codes: tuple[str, ...], groups: list[str]) -> None:
    assert key_groups(held(*codes), HIRED, TODAY) == groups
    assert failed(evaluate(categories=held(*codes))) == (set() if groups else {"key_group"})


def test_a_category_counts_when_held_at_hiring_even_if_the_hiring_ended_it() -> None:
    # A zero-employment household stops being one when its member is hired: the registry stops
    # listing the category the day the employment is recorded.
    withdrawn = held("zero_employment_family", withdrawn_on=HIRED)
    assert key_groups(withdrawn, HIRED, TODAY) == ["zero_employment_family"]
    assert "no longer listed from 2018-04-01" in detail_of(evaluate(categories=withdrawn), "key_group")
    # A recent graduate's two years run out during the year of employment.
    graduate = [*held("recent_graduate", valid_until=date(2018, 7, 1)), *held("disabled")]
    assert key_groups(graduate, HIRED, TODAY) == ["poor_recent_graduate"]


def test_a_category_that_ended_before_hiring_does_not_count() -> None:
    expired = held("low_income_family", valid_until=date(2018, 3, 31))
    withdrawn = held("rural_poor", withdrawn_on=date(2018, 3, 1))
    checks = evaluate(categories=[*expired, *withdrawn])
    assert failed(checks) == {"key_group"}
    assert "not counted (ended before hiring or not yet started)" in detail_of(checks, "key_group")
    assert key_groups(held("low_income_family", valid_from=date(2019, 7, 1)), HIRED, TODAY) == []


@pytest.mark.parametrize(
    ("today", "ended_on", "passes"),
    [
        (date(2019, 3, 31), None, True),  # the twelfth month completes at the end of this day
        (date(2019, 3, 30), None, False),
        (TODAY, date(2019, 3, 31), True),
        (TODAY, date(2019, 3, 30), False),
        (TODAY, date(2020, 1, 1), True),  # an end announced for later: counted up to today
    ],
)
def test_twelve_months_of_employment_boundaries(today: date, ended_on: date | None, passes: bool) -> None:
    checks = evaluate(job=employment(ended_on=ended_on), today=today)
    assert ("employed_12_months" not in failed(checks)) is passes


def test_only_paid_months_inside_the_employment_count() -> None:
    early = months("2017-10", 6)  # before the hiring: not this employment's
    inside = months("2018-04", 11)
    checks = evaluate(job=employment(contribution_months=early + inside))
    assert failed(checks) == {"insured_12_months"}
    assert "6 recorded months outside 2018-04..2019-06 not counted" in detail_of(checks, "insured_12_months")
    unpaid = [*months("2018-04", 11), *months("2019-03", 1, insurances=())]
    assert failed(evaluate(job=employment(contribution_months=unpaid))) == {"insured_12_months"}
    repeated = months("2018-04", 11) + months("2018-04", 1)
    assert failed(evaluate(job=employment(contribution_months=repeated))) == {"insured_12_months"}


days = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))


@given(start=days, extra=st.integers(min_value=0, max_value=2000))
def test_full_months_is_the_largest_whole_number_of_months_covered(start: date, extra: int) -> None:
    last = start + timedelta(days=extra)
    n = full_months(start, last)
    assert add_months(start, n) <= last + timedelta(days=1) < add_months(start, n + 1)


@given(start=days, extra=st.integers(min_value=0, max_value=800))
def test_employed_12_months_holds_exactly_from_the_anniversary_eve(start: date, extra: int) -> None:
    today = start + timedelta(days=extra)
    job = employment(started_on=start, contribution_months=[])
    check = next(c for c in evaluate(job=job, today=today) if c.rule == "employed_12_months")
    assert check.passed is (today >= add_months(start, 12) - timedelta(days=1))


registrations_strategy = st.lists(
    st.tuples(days, st.one_of(st.none(), st.integers(min_value=0, max_value=900))), max_size=4
)


@given(hired=days, spans=registrations_strategy)
def test_registered_unemployed_when_hired_matches_a_plain_reading(
    hired: date, spans: list[tuple[date, int | None]]
) -> None:
    regs = [registration(on, None if length is None else on + timedelta(days=length)) for on, length in spans]
    expected = any(r.registered_on <= hired and (r.closed_on is None or r.closed_on >= hired) for r in regs)
    checks = evaluate(beneficiary=person(unemployment_registrations=regs), job=employment(started_on=hired))
    check = next(c for c in checks if c.rule == "registered_unemployed_when_hired")
    assert check.passed is expected


category_codes = st.sampled_from(
    [
        "age_4050",
        "low_income_family",
        "zero_employment_family",
        "recent_graduate",
        "rural_poor",
        "disabled",
        "veteran",
        "capacity_reduction_worker",
        "extreme_poverty",
    ]
)


@given(codes=st.sets(category_codes))
def test_key_group_membership_matches_the_plans_five_groups(codes: set[str]) -> None:
    poor_graduate = "recent_graduate" in codes and bool(
        codes & {"low_income_family", "rural_poor", "extreme_poverty", "disabled"}
    )
    single = bool(codes & {"low_income_family", "zero_employment_family", "rural_poor"})
    capacity = "capacity_reduction_worker" in codes and len(codes) > 1
    assert bool(key_groups(held(*codes), HIRED, TODAY)) is (poor_graduate or single or capacity)


@given(day=days, months_later=st.integers(min_value=0, max_value=240))
def test_add_months_keeps_the_day_or_ends_the_month(day: date, months_later: int) -> None:
    later = add_months(day, months_later)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months_later
    assert later.day == day.day or (later.day < day.day and (later + timedelta(days=1)).day == 1)
