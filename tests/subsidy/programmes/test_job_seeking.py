"""求职创业补贴 as a pure strategy: the plan's extension (graduating-year college students of a
low-income family, a poor disabled family, a registered poor household, or among the extreme poor),
each rule failing alone with its evidence, the empty claim, the payee rule, `gather` against
in-memory projections, the configured amount, and properties."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.registry import PersonSnapshot
from contracts.vocabulary import Programme as ProgrammeCode
from services.subsidy.programmes.base import Applicant, Missing, Payee
from services.subsidy.programmes.job_seeking import (
    JobSeeking,
    JobSeekingClaim,
    JobSeekingEvidence,
    JobSeekingSettings,
)
from services.subsidy.programmes.rules import CategoryRecord, Check, Grant
from tests.subsidy.programmes.facts import MemoryFacts, category, person

TODAY = date(2019, 5, 15)
PROGRAMME = JobSeeking(JobSeekingSettings())
RULES = ["graduating_year", "poor_family", "never_paid_before", "alive"]
POOR = ["low_income_family", "disabled", "rural_poor", "extreme_poverty"]


def student(**changes: Any) -> PersonSnapshot:
    """A college student graduating this summer."""
    return person(**{"graduated_on": date(2019, 6, 30), "birth_year": 1997, **changes})


def evidence(
    graduate: PersonSnapshot | None = None,
    categories: list[CategoryRecord] | None = None,
    granted: list[Grant] | None = None,
) -> JobSeekingEvidence:
    return JobSeekingEvidence(
        graduate or student(),
        [category("low_income_family", date(2016, 9, 1), source="civil_affairs")] if categories is None else categories,
        granted or [],
    )


def checks(of: JobSeekingEvidence, today: date = TODAY) -> list[Check]:
    return PROGRAMME.checks(of, today)


def failed(of: JobSeekingEvidence, today: date = TODAY) -> set[str]:
    return {c.rule for c in checks(of, today) if not c.passed}


def detail(of: JobSeekingEvidence, rule: str, today: date = TODAY) -> str:
    return next(c.detail for c in checks(of, today) if c.rule == rule)


# --- the plan's cases ---------------------------------------------------------------------------


def test_a_graduating_year_student_of_a_low_income_family_passes_every_rule_with_its_evidence() -> None:
    result = checks(evidence())
    assert [c.rule for c in result] == RULES
    assert all(c.passed for c in result)
    details = {c.rule: c.detail for c in result}
    assert details["graduating_year"] == "graduates on 2019-06-30"
    assert details["poor_family"] == (
        "holds low_income_family; categories held on 2019-05-15: low_income_family [civil_affairs, 2016-09-01..open]"
    )
    assert "no other application was granted this grant" in details["never_paid_before"]
    assert "no death recorded" in details["alive"]


@pytest.mark.parametrize("code", POOR)
def test_each_family_the_plan_names_counts(code: str) -> None:
    of = evidence(categories=[category(code, date(2018, 1, 1))])
    assert failed(of) == set()
    assert detail(of, "poor_family").startswith(f"holds {code};")


def test_every_family_held_is_named() -> None:
    of = evidence(categories=[category(code) for code in reversed(POOR)] + [category("veteran")])
    text = detail(of, "poor_family")
    assert text.startswith("holds low_income_family, disabled, rural_poor, extreme_poverty;")
    assert "veteran [registry, 2018-01-01..open]" in text


def test_a_student_who_graduated_earlier_this_year_counts() -> None:
    assert failed(evidence(graduate=student(graduated_on=date(2019, 1, 10)))) == set()


# --- each rule failing alone --------------------------------------------------------------------

ALONE: dict[str, tuple[Any, str, str]] = {
    "graduated_last_year": (
        lambda: evidence(graduate=student(graduated_on=date(2018, 7, 1))),
        "graduating_year",
        "graduates on 2018-07-01, not in 2019",
    ),
    "graduates_next_year": (
        lambda: evidence(graduate=student(graduated_on=date(2020, 6, 30))),
        "graduating_year",
        "graduates on 2020-06-30, not in 2019",
    ),
    "no_graduation": (
        lambda: evidence(graduate=student(graduated_on=None)),
        "graduating_year",
        "no college graduation on record",
    ),
    "no_category": (
        lambda: evidence(categories=[]),
        "poor_family",
        "holds none of low_income_family, disabled, rural_poor, extreme_poverty; categories held on 2019-05-15: none",
    ),
    "other_difficulties": (
        # A zero-employment family or a recent graduate is a difficulty, not one of the plan's families.
        lambda: evidence(categories=[category("zero_employment_family"), category("recent_graduate")]),
        "poor_family",
        "holds none of",
    ),
    "restricted": (
        lambda: evidence(categories=[category("restricted_difficulty", source="restricted")]),
        "poor_family",
        "restricted_difficulty [restricted, 2018-01-01..open]",
    ),
    "ended_yesterday": (
        lambda: evidence(categories=[category("low_income_family", valid_until=TODAY - timedelta(days=1))]),
        "poor_family",
        "not counted (ended or not yet started): low_income_family [registry, 2018-01-01..2019-05-14]",
    ),
    "withdrawn_yesterday": (
        lambda: evidence(categories=[category("rural_poor", withdrawn_on=TODAY - timedelta(days=1))]),
        "poor_family",
        "no longer listed from 2019-05-14",
    ),
    "starts_tomorrow": (
        lambda: evidence(categories=[category("extreme_poverty", TODAY + timedelta(days=1))]),
        "poor_family",
        "categories held on 2019-05-15: none; not counted",
    ),
    "paid_before": (
        lambda: evidence(granted=[Grant("once", uuid.uuid4(), "paid", date(2019, 3, 1))]),
        "never_paid_before",
        "already granted for this beneficiary: application",
    ),
    "deceased": (
        lambda: evidence(graduate=student(deceased_on=date(2019, 5, 1))),
        "alive",
        "reported deceased on 2019-05-01",
    ),
}


@pytest.mark.parametrize("name", sorted(ALONE))
def test_each_rule_fails_alone_with_its_evidence(name: str) -> None:
    build, rule, text = ALONE[name]
    of = build()
    assert failed(of) == {rule}
    assert text in detail(of, rule)


def test_every_rule_is_covered_by_a_failing_case() -> None:
    assert {rule for _, rule, _ in ALONE.values()} == set(RULES)


def test_a_category_ending_today_is_still_held_today() -> None:
    assert failed(evidence(categories=[category("disabled", valid_until=TODAY)])) == set()


def test_the_earlier_grant_is_named() -> None:
    grant = Grant("once", uuid.uuid4(), "approved")
    assert f"application {grant.application_id} (approved)" in detail(evidence(granted=[grant]), "never_paid_before")


# --- claim, applicant, payee, amount ------------------------------------------------------------


def test_the_programme_s_attributes() -> None:
    assert PROGRAMME.code == ProgrammeCode.job_seeking
    assert PROGRAMME.name == "求职创业补贴"
    assert PROGRAMME.one_time is True
    assert PROGRAMME.payee_role == "graduate"
    assert PROGRAMME.units(JobSeekingClaim()) == ["once"]
    assert PROGRAMME.amounts == {"amount_fen": 100_000}


def test_the_claim_names_nothing_more() -> None:
    assert PROGRAMME.parse_claim({}) == JobSeekingClaim()


@pytest.mark.parametrize(
    "fields",
    [{"employment_id": str(uuid.uuid4())}, {"business_credit_code": "92500226MA5U3P7X10"}, {"months": ["2019-05"]}],
    ids=["employment_id", "business_credit_code", "months"],
)
def test_the_claim_refuses_any_field(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PROGRAMME.parse_claim(fields)


def test_the_graduate_applies_for_themself() -> None:
    graduate = uuid.uuid4()
    assert PROGRAMME.applicant_error(Applicant("person", person_id=graduate), graduate, JobSeekingClaim()) is None
    for applicant in (
        Applicant("person", person_id=uuid.uuid4()),
        Applicant("employer", credit_code="92500226MA5U3P7X10"),
        Applicant("person"),
    ):
        error = PROGRAMME.applicant_error(applicant, graduate, JobSeekingClaim())
        assert error is not None
        assert "pays the graduate" in error


def test_the_graduate_is_paid_under_the_masked_name() -> None:
    of = evidence(graduate=student(name_masked="陈*"))
    applicant = Applicant("person", person_id=of.person.person_id)
    assert PROGRAMME.payee(of, applicant) == Payee("person", "陈*", person_id=of.person.person_id)


def test_the_amount_is_the_setting() -> None:
    of = evidence()
    assert PROGRAMME.amount_fen(of, TODAY) == 100_000
    assert JobSeeking(JobSeekingSettings(amount_fen=150_000)).amount_fen(of, TODAY) == 150_000
    judgement = JobSeeking(JobSeekingSettings(amount_fen=80_000)).judge(
        of, Applicant("person", person_id=of.person.person_id), TODAY
    )
    assert judgement.eligible
    assert judgement.amount_fen == 80_000


def test_the_amount_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBSIDY_JOB_SEEKING_AMOUNT_FEN", "120000")
    assert JobSeeking().amount_fen(evidence(), TODAY) == 120_000


@pytest.mark.parametrize("amount", [0, -100])
def test_the_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(ValidationError):
        JobSeekingSettings(amount_fen=amount)


# --- gather -------------------------------------------------------------------------------------


async def test_gather_reads_the_graduate_and_their_categories() -> None:
    graduate, other = student(), student()
    held = [category("rural_poor", source="agriculture"), category("recent_graduate", valid_until=date(2018, 1, 1))]
    facts = MemoryFacts(
        persons={graduate.person_id: graduate, other.person_id: other},
        category_history={graduate.person_id: held, other.person_id: [category("low_income_family")]},
    )
    granted = [Grant("once", uuid.uuid4(), "approved")]
    applicant = Applicant("person", person_id=graduate.person_id)

    of = await PROGRAMME.gather(facts, graduate.person_id, applicant, JobSeekingClaim(), granted)

    assert of == JobSeekingEvidence(graduate, held, granted)
    assert failed(of) == {"never_paid_before"}


async def test_gather_waits_for_an_unseen_graduate() -> None:
    beneficiary = uuid.uuid4()
    facts = MemoryFacts(category_history={beneficiary: [category("low_income_family")]})
    with pytest.raises(Missing) as raised:
        await PROGRAMME.gather(facts, beneficiary, Applicant("person", person_id=beneficiary), JobSeekingClaim(), [])
    assert raised.value.what == [f"person {beneficiary}"]


# --- properties ---------------------------------------------------------------------------------

codes = st.sampled_from(
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
        "restricted_difficulty",
    ]
)
# A category record relative to today: (code, starts days before today, ends days after today or None).
records = st.lists(
    st.tuples(
        codes,
        st.integers(min_value=-30, max_value=2000),
        st.one_of(st.none(), st.integers(min_value=-400, max_value=400)),
    ),
    max_size=8,
)


@given(records=records)
def test_poor_family_passes_iff_a_named_family_is_held_today(records: list[tuple[str, int, int | None]]) -> None:
    categories = [
        category(
            code,
            TODAY - timedelta(days=before),
            valid_until=None if after is None else TODAY + timedelta(days=after),
            source="restricted" if code == "restricted_difficulty" else "registry",
        )
        for code, before, after in records
    ]
    held_today = {
        code
        for code, before, after in records
        if before >= 0 and (after is None or after >= 0)  # started by today, not ended before today
    }
    check = next(c for c in checks(evidence(categories=categories)) if c.rule == "poor_family")
    assert check.passed == bool(held_today & set(POOR))
    named = check.detail.split(";")[0]
    if check.passed:
        assert named == "holds " + ", ".join(code for code in POOR if code in held_today)
    else:
        assert named == "holds none of " + ", ".join(POOR)


@given(
    graduated=st.one_of(st.none(), st.dates(min_value=date(2010, 1, 1), max_value=date(2030, 12, 31))),
    today=st.dates(min_value=date(2015, 1, 1), max_value=date(2025, 12, 31)),
)
def test_graduating_year_is_the_calendar_year_of_today(graduated: date | None, today: date) -> None:
    of = evidence(graduate=student(graduated_on=graduated))
    check = next(c for c in checks(of, today) if c.rule == "graduating_year")
    assert check.passed == (graduated is not None and graduated.year == today.year)


@given(
    died=st.dates(min_value=date(2018, 1, 1), max_value=TODAY),
    code=codes,
    graduated=st.one_of(st.none(), st.dates(min_value=date(2018, 1, 1), max_value=date(2020, 12, 31))),
    paid=st.booleans(),
)
def test_a_deceased_graduate_is_never_eligible(died: date, code: str, graduated: date | None, paid: bool) -> None:
    of = evidence(
        graduate=student(deceased_on=died, graduated_on=graduated),
        categories=[category(code, source="restricted" if code == "restricted_difficulty" else "registry")],
        granted=[Grant("once", uuid.uuid4(), "paid", died)] if paid else [],
    )
    judgement = PROGRAMME.judge(of, Applicant("person", person_id=of.person.person_id), TODAY)
    assert not judgement.eligible
    assert "alive" in judgement.failed_rules
