"""参保职工技能提升补贴 as a pure strategy: the plan's case (three years of unemployment insurance and a
certificate obtained this year), each rule failing alone with its evidence, the claim, the
applicant, the gathering, the amounts by level, and properties checked against a brute-force count."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.registry import ContributionMonth, EmploymentSnapshot, TrainingState
from contracts.vocabulary import CertificateLevel, Insurance
from services.subsidy.programmes.base import Applicant, Judgement, Missing, Payee
from services.subsidy.programmes.rules import Grant
from services.subsidy.programmes.skills_upgrade import (
    SkillsUpgrade,
    SkillsUpgradeClaim,
    SkillsUpgradeEvidence,
    SkillsUpgradeSettings,
)
from tests.subsidy.programmes.facts import MemoryFacts, employment, months, person

TODAY = date(2018, 9, 1)
EMPLOYEE = uuid.UUID(int=1)
SOMEONE_ELSE = uuid.UUID(int=2)
TRAINING = uuid.UUID(int=30)
APPLICATION = uuid.UUID(int=20)
EMPLOYER = "91500226MA5U7K3X20"
OTHER_EMPLOYER = "91500226MA5U7K3X30"
PROVIDER = "荣昌区职业技能培训中心"
INSURED = ("pension", "medical", "unemployment")
PROGRAMME = SkillsUpgrade()

RULES = [
    "certificate_obtained",
    "certificate_this_year",
    "unemployment_insured_36_months",
    "certificate_not_paid_before",
    "alive",
]
DEFAULT_FEN = {
    "elementary": 100_000,
    "intermediate": 150_000,
    "advanced": 200_000,
    "technician": 250_000,
    "senior_technician": 300_000,
}


def three_years() -> list[list[ContributionMonth]]:
    """One employment since March 2015, insured against unemployment 2015-03..2018-02."""
    return [months("2015-03", 36, INSURED)]


@dataclass
class Case:
    training_changes: dict[str, Any] = field(default_factory=dict)
    person_changes: dict[str, Any] = field(default_factory=dict)
    contributions: list[list[ContributionMonth]] = field(default_factory=three_years)
    applicant: Applicant = field(default_factory=lambda: Applicant("person", person_id=EMPLOYEE))
    granted: tuple[Grant, ...] = ()

    def training(self) -> TrainingState:
        return TrainingState.model_validate(
            {
                "training_id": TRAINING,
                "kind": "vocational",
                "completed_on": date(2018, 6, 30),
                "certificate_level": "intermediate",
                "provider": PROVIDER,
                **self.training_changes,
            }
        )

    def facts(self) -> MemoryFacts:
        employee = person(person_id=EMPLOYEE, status="employed", trainings=[self.training()], **self.person_changes)
        works = [
            employment(EMPLOYEE, EMPLOYER, started_on=date(2015, 3, 1), contribution_months=paid)
            for paid in self.contributions
        ]
        return MemoryFacts(persons={EMPLOYEE: employee}, employments={w.employment_id: w for w in works})

    def claim(self) -> SkillsUpgradeClaim:
        return PROGRAMME.parse_claim({"training_id": str(TRAINING)})


async def gathered(case: Case, facts: MemoryFacts | None = None) -> SkillsUpgradeEvidence:
    facts = facts if facts is not None else case.facts()
    return await PROGRAMME.gather(facts, EMPLOYEE, case.applicant, case.claim(), case.granted)


async def judge(case: Case, programme: SkillsUpgrade = PROGRAMME, today: date = TODAY) -> Judgement:
    evidence = await programme.gather(case.facts(), EMPLOYEE, case.applicant, case.claim(), case.granted)
    return programme.judge(evidence, case.applicant, today)


def detail(judgement: Judgement, rule: str) -> str:
    return next(c.detail for c in judgement.checks if c.rule == rule)


# --- the plan's case ---------------------------------------------------------------------------------


async def test_three_years_insured_and_an_intermediate_certificate_this_year_pays_1500_cny() -> None:
    judgement = await judge(Case())
    assert judgement.eligible, judgement.checks
    assert [c.rule for c in judgement.checks] == RULES
    assert judgement.amount_fen == 150_000
    assert judgement.payee == Payee("person", "刘*梅", person_id=EMPLOYEE)
    assert detail(judgement, "certificate_obtained") == (
        f"training {TRAINING} (vocational, {PROVIDER}, completed 2018-06-30) carries a certificate, level intermediate"
    )
    assert detail(judgement, "certificate_this_year") == "obtained on 2018-06-30"
    assert detail(judgement, "unemployment_insured_36_months") == (
        "36 distinct months with unemployment insurance paid (2015-03..2018-02) across 1 employment; 36 needed"
    )


async def test_insurance_in_several_employments_adds_up() -> None:
    judgement = await judge(Case(contributions=[months("2014-01", 20, INSURED), months("2016-01", 20, INSURED)]))
    assert judgement.eligible
    assert detail(judgement, "unemployment_insured_36_months") == (
        "40 distinct months with unemployment insurance paid (2014-01..2017-08) across 2 employments; 36 needed"
    )


async def test_a_month_insured_in_two_employments_counts_once() -> None:
    # 2015-01..2016-12 and 2016-07..2017-06: 24 + 12 months, six of them the same.
    judgement = await judge(Case(contributions=[months("2015-01", 24, INSURED), months("2016-07", 12, INSURED)]))
    assert judgement.failed_rules == ["unemployment_insured_36_months"]
    assert detail(judgement, "unemployment_insured_36_months") == (
        "30 distinct months with unemployment insurance paid (2015-01..2017-06) across 2 employments; 36 needed"
    )


async def test_months_without_unemployment_insurance_do_not_count() -> None:
    contributions = [months("2015-03", 24, INSURED) + months("2017-03", 12, ("pension", "medical"))]
    judgement = await judge(Case(contributions=contributions))
    assert judgement.failed_rules == ["unemployment_insured_36_months"]
    assert detail(judgement, "unemployment_insured_36_months").startswith("24 distinct months")


async def test_no_employment_at_all() -> None:
    judgement = await judge(Case(contributions=[]))
    assert judgement.failed_rules == ["unemployment_insured_36_months"]
    assert detail(judgement, "unemployment_insured_36_months") == (
        "no month with unemployment insurance paid across 0 employments; 36 needed"
    )


async def test_someone_else_s_employments_are_not_counted() -> None:
    case = Case(contributions=[months("2015-03", 20, INSURED)])
    facts = case.facts()
    theirs = employment(SOMEONE_ELSE, OTHER_EMPLOYER, contribution_months=months("2012-01", 60, INSURED))
    facts.employments[theirs.employment_id] = theirs
    evidence = await gathered(case, facts)
    assert [e.person_id for e in evidence.employments] == [EMPLOYEE]
    assert PROGRAMME.judge(evidence, case.applicant, TODAY).failed_rules == ["unemployment_insured_36_months"]


@pytest.mark.parametrize(("level", "fen"), sorted(DEFAULT_FEN.items()))
async def test_the_amount_follows_the_certificate_level(level: str, fen: int) -> None:
    judgement = await judge(Case(training_changes={"certificate_level": level}))
    assert judgement.eligible
    assert judgement.amount_fen == fen


# --- each rule failing alone -----------------------------------------------------------------------

FAILING: dict[str, tuple[Case, str]] = {
    "certificate_obtained": (
        Case(training_changes={"certificate_level": None}),
        f"training {TRAINING} (vocational, {PROVIDER}, completed 2018-06-30) carries no certificate",
    ),
    "certificate_this_year": (
        Case(training_changes={"completed_on": date(2017, 12, 20)}),
        "obtained on 2017-12-20, not in 2018",
    ),
    "unemployment_insured_36_months": (
        Case(contributions=[months("2015-03", 35, INSURED)]),
        "35 distinct months with unemployment insurance paid (2015-03..2018-01) across 1 employment; 36 needed",
    ),
    "certificate_not_paid_before": (
        Case(granted=(Grant(str(TRAINING), APPLICATION, "paid", date(2018, 8, 1)),)),
        f"already granted for this beneficiary: {TRAINING}: application {APPLICATION} paid 2018-08-01",
    ),
    "alive": (Case(person_changes={"deceased_on": date(2018, 8, 15)}), "reported deceased on 2018-08-15"),
}


@pytest.mark.parametrize("rule", sorted(FAILING))
async def test_a_rule_failing_alone_fails_with_its_evidence(rule: str) -> None:
    case, evidence = FAILING[rule]
    judgement = await judge(case)
    assert judgement.failed_rules == [rule]
    assert detail(judgement, rule) == evidence


def test_every_rule_has_a_failing_case() -> None:
    assert set(FAILING) == set(RULES)


async def test_no_certificate_pays_nothing() -> None:
    judgement = await judge(Case(training_changes={"certificate_level": None, "provider": None}))
    assert judgement.amount_fen == 0
    assert detail(judgement, "certificate_obtained") == (
        f"training {TRAINING} (vocational, completed 2018-06-30) carries no certificate"
    )


async def test_a_certificate_of_new_year_s_day_and_of_new_year_s_eve_count() -> None:
    assert (await judge(Case(training_changes={"completed_on": date(2018, 1, 1)}))).eligible
    assert (await judge(Case(training_changes={"completed_on": date(2018, 12, 31)}), today=date(2018, 12, 31))).eligible
    late = await judge(Case(training_changes={"completed_on": date(2018, 12, 31)}), today=date(2019, 1, 1))
    assert late.failed_rules == ["certificate_this_year"]


# --- the claim, the applicant, the gathering ----------------------------------------------------------


def test_the_certificate_is_the_unit() -> None:
    claim = PROGRAMME.parse_claim({"training_id": str(TRAINING)})
    assert claim == SkillsUpgradeClaim(training_id=TRAINING)
    assert PROGRAMME.units(claim) == [str(TRAINING)]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "training_id"),
        ({"training_id": "not-a-uuid"}, "UUID"),
        ({"training_id": None}, "UUID"),
        ({"training_id": str(TRAINING), "employment_id": str(uuid.uuid4())}, "extra"),
        ({"training_id": str(TRAINING), "months": ["2018-04"]}, "extra"),
        ({"employment_id": str(uuid.uuid4())}, "training_id"),
    ],
)
def test_a_claim_lacking_or_naming_the_wrong_fields_is_refused(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PROGRAMME.parse_claim(fields)
    assert error in str(refused.value)


@pytest.mark.parametrize(
    ("applicant", "refused"),
    [
        (Applicant("person", person_id=EMPLOYEE), False),
        (Applicant("person", person_id=SOMEONE_ELSE), True),
        (Applicant("person"), True),
        (Applicant("employer", credit_code=EMPLOYER), True),
    ],
)
def test_only_the_employee_may_apply(applicant: Applicant, refused: bool) -> None:
    error = PROGRAMME.applicant_error(applicant, EMPLOYEE, Case().claim())
    if refused:
        assert error == (
            "this programme pays the employee: the applicant must be the beneficiary, kind `person` with its person_id"
        )
    else:
        assert error is None


async def test_gather_waits_for_a_person_not_seen_yet() -> None:
    with pytest.raises(Missing) as missing:
        await gathered(Case(), MemoryFacts())
    assert missing.value.what == [f"person {EMPLOYEE}"]


async def test_gather_waits_for_a_training_the_snapshot_does_not_list_yet() -> None:
    facts = Case().facts()
    facts.persons[EMPLOYEE] = facts.persons[EMPLOYEE].model_copy(update={"trainings": []})
    with pytest.raises(Missing) as missing:
        await gathered(Case(), facts)
    assert missing.value.what == [f"training {TRAINING}"]


async def test_gather_finds_the_training_among_several() -> None:
    other = Case(training_changes={"training_id": uuid.UUID(int=31), "completed_on": date(2017, 1, 5)}).training()
    facts = Case().facts()
    snapshot = facts.persons[EMPLOYEE]
    facts.persons[EMPLOYEE] = snapshot.model_copy(update={"trainings": [other, *snapshot.trainings]})
    evidence = await gathered(Case(), facts)
    assert evidence.training.training_id == TRAINING
    assert evidence.training.completed_on == date(2018, 6, 30)


async def test_gather_keeps_the_grants() -> None:
    grants = (Grant(str(TRAINING), APPLICATION, "approved"),)
    assert (await gathered(Case(granted=grants))).granted == grants


def test_the_class_attributes() -> None:
    assert PROGRAMME.code == "skills_upgrade"
    assert PROGRAMME.name == "参保职工技能提升补贴"
    assert PROGRAMME.payee_role == "employee"
    assert PROGRAMME.one_time is False


# --- amounts from the settings -----------------------------------------------------------------------


def test_the_default_amounts() -> None:
    assert PROGRAMME.amounts == {f"{level}_fen": fen for level, fen in DEFAULT_FEN.items()}


async def test_amounts_come_from_the_settings() -> None:
    programme = SkillsUpgrade(SkillsUpgradeSettings(intermediate_fen=180_000, advanced_fen=260_000))
    assert (await judge(Case(), programme)).amount_fen == 180_000
    assert (await judge(Case(training_changes={"certificate_level": "advanced"}), programme)).amount_fen == 260_000
    assert (await judge(Case(training_changes={"certificate_level": "elementary"}), programme)).amount_fen == 100_000


def test_the_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBSIDY_SKILLS_UPGRADE_TECHNICIAN_FEN", "280000")
    assert SkillsUpgrade().amounts["technician_fen"] == 280_000


@pytest.mark.parametrize("level", sorted(DEFAULT_FEN))
def test_an_amount_must_be_positive(level: str) -> None:
    with pytest.raises(ValidationError):
        SkillsUpgradeSettings.model_validate({f"{level}_fen": 0})


# --- properties --------------------------------------------------------------------------------------

MONTHS = [f"{2012 + i // 12:04d}-{i % 12 + 1:02d}" for i in range(72)]
insurance_sets = st.frozensets(st.sampled_from(list(Insurance)))
contribution_lists = st.lists(
    st.dictionaries(st.sampled_from(MONTHS), insurance_sets, max_size=60), min_size=0, max_size=4
)


def evidence_of(contributions: list[dict[str, frozenset[Insurance]]], training: TrainingState) -> SkillsUpgradeEvidence:
    works: list[EmploymentSnapshot] = [
        employment(
            EMPLOYEE,
            EMPLOYER,
            contribution_months=[
                ContributionMonth(month=m, insurances=[i for i in Insurance if i in insurances])
                for m, insurances in paid.items()
            ],
        )
        for paid in contributions
    ]
    return SkillsUpgradeEvidence(person(person_id=EMPLOYEE), training, works, ())


@given(contributions=contribution_lists)
def test_insured_36_months_iff_36_distinct_months_whatever_the_overlap(
    contributions: list[dict[str, frozenset[Insurance]]],
) -> None:
    insured = sorted({m for paid in contributions for m, ins in paid.items() if Insurance.unemployment in ins})
    check = next(
        c
        for c in PROGRAMME.checks(evidence_of(contributions, Case().training()), TODAY)
        if c.rule == "unemployment_insured_36_months"
    )
    assert check.passed == (len(insured) >= 36)
    if insured:
        assert check.detail.startswith(f"{len(insured)} distinct months with unemployment insurance paid")
        assert f"({insured[0]}..{insured[-1]})" in check.detail
    else:
        assert check.detail.startswith("no month with unemployment insurance paid")


@given(
    contributions=contribution_lists,
    shuffle=st.randoms(use_true_random=False),
)
def test_the_order_of_the_employments_does_not_matter(
    contributions: list[dict[str, frozenset[Insurance]]], shuffle: Any
) -> None:
    reordered = list(contributions)
    shuffle.shuffle(reordered)
    training = Case().training()
    assert PROGRAMME.checks(evidence_of(contributions, training), TODAY) == PROGRAMME.checks(
        evidence_of(reordered, training), TODAY
    )


@given(
    level=st.sampled_from(list(CertificateLevel)),
    amounts=st.fixed_dictionaries({f"{level}_fen": st.integers(1, 10_000_000) for level in DEFAULT_FEN}),
)
def test_the_amount_is_the_configured_amount_of_the_level(level: CertificateLevel, amounts: dict[str, int]) -> None:
    programme = SkillsUpgrade(SkillsUpgradeSettings.model_validate(amounts))
    training = Case(training_changes={"certificate_level": level}).training()
    assert programme.amount_fen(evidence_of([], training), TODAY) == amounts[f"{level.value}_fen"]


@given(
    completed_on=st.dates(date(2010, 1, 1), date(2030, 12, 31)), today=st.dates(date(2010, 1, 1), date(2030, 12, 31))
)
def test_certificate_this_year_passes_iff_the_years_match(completed_on: date, today: date) -> None:
    training = Case(training_changes={"completed_on": completed_on}).training()
    check = next(c for c in PROGRAMME.checks(evidence_of([], training), today) if c.rule == "certificate_this_year")
    assert check.passed == (completed_on.year == today.year)
