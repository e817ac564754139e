"""社会保险补贴 as a pure strategy: the plan's cases (a 4050 worker in flexible work gets work injury
and maternity too, a veteran only pension, medical and unemployment), each rule failing alone with
its evidence, the claim, the applicant, the gathering, the amounts, and properties checked against
a brute-force reading."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.registry import ContributionMonth
from contracts.vocabulary import RESTRICTED_DIFFICULTY, Category, Insurance
from services.subsidy.programmes.base import Applicant, Judgement, Missing, Payee
from services.subsidy.programmes.rules import CategoryRecord, Grant
from services.subsidy.programmes.social_insurance import (
    SocialInsurance,
    SocialInsuranceClaim,
    SocialInsuranceEvidence,
    SocialInsuranceSettings,
)
from tests.subsidy.programmes.facts import MemoryFacts, category, employment, months, person, registration

TODAY = date(2018, 12, 15)
WORKER = uuid.UUID(int=1)
SOMEONE_ELSE = uuid.UUID(int=2)
EMPLOYMENT = uuid.UUID(int=10)
APPLICATION = uuid.UUID(int=20)
EMPLOYER = "91500226MA5U7K3X20"
OTHER_EMPLOYER = "91500226MA5U7K3X30"
ALL_FIVE = ("pension", "medical", "unemployment", "work_injury", "maternity")
CLAIMED = ("2018-04", "2018-05", "2018-06")
PROGRAMME = SocialInsurance()

# The defaults, in fen per month: pension 500, medical 200, unemployment 25 CNY ...
BASE_MONTH_FEN = 50_000 + 20_000 + 2_500
# ... plus work injury 10 and maternity 10 CNY for the plan's four groups.
EXTENDED_MONTH_FEN = BASE_MONTH_FEN + 1_000 + 1_000

RULES = [
    "employment_of_beneficiary",
    "payee_rule",
    "has_difficulty",
    "months_in_employment",
    "months_paid",
    "months_not_paid_before",
    "insurances_covered",
    "alive",
]


@dataclass
class Case:
    """One application's facts: the projections, the applicant, the claim and earlier grants."""

    categories: list[CategoryRecord] = field(default_factory=lambda: [category("age_4050")])
    person_changes: dict[str, Any] = field(default_factory=dict)
    employment_changes: dict[str, Any] = field(default_factory=dict)
    applicant: Applicant = field(default_factory=lambda: Applicant("person", person_id=WORKER))
    claimed: tuple[str, ...] = CLAIMED
    granted: tuple[Grant, ...] = ()

    def facts(self) -> MemoryFacts:
        worker = person(
            person_id=WORKER,
            status="employed",
            unemployment_registrations=[registration(date(2018, 1, 10), date(2018, 3, 31))],
            **self.person_changes,
        )
        changes: dict[str, Any] = {
            "employment_id": EMPLOYMENT,
            "kind": "flexible",
            "employer_name": "灵活就业",
            "started_on": date(2018, 4, 1),
            "contribution_months": months("2018-04", 6, ALL_FIVE),
            **self.employment_changes,
        }
        work = employment(changes.pop("person_id", WORKER), EMPLOYER, **changes)
        return MemoryFacts(
            persons={WORKER: worker}, category_history={WORKER: self.categories}, employments={EMPLOYMENT: work}
        )

    def claim(self) -> SocialInsuranceClaim:
        return PROGRAMME.parse_claim({"employment_id": str(EMPLOYMENT), "months": list(self.claimed)})


def employee_case(**changes: Any) -> Case:
    """The same worker hired as an employee by 荣昌陶瓷, who applies as the employer."""
    employment_changes = {
        "kind": "employee",
        "employer_name": "荣昌陶瓷有限公司",
        **changes.pop("employment_changes", {}),
    }
    changes.setdefault("applicant", Applicant("employer", credit_code=EMPLOYER))
    return Case(employment_changes=employment_changes, **changes)


async def gathered(case: Case, programme: SocialInsurance = PROGRAMME) -> SocialInsuranceEvidence:
    return await programme.gather(case.facts(), WORKER, case.applicant, case.claim(), case.granted)


async def judge(case: Case, programme: SocialInsurance = PROGRAMME, today: date = TODAY) -> Judgement:
    return programme.judge(await gathered(case, programme), case.applicant, today)


def detail(judgement: Judgement, rule: str) -> str:
    return next(c.detail for c in judgement.checks if c.rule == rule)


# --- the plan's cases ------------------------------------------------------------------------------


async def test_a_4050_worker_in_flexible_work_gets_all_five_insurances_for_three_paid_months() -> None:
    judgement = await judge(Case())
    assert judgement.eligible, judgement.checks
    assert [c.rule for c in judgement.checks] == RULES
    assert judgement.amount_fen == 3 * EXTENDED_MONTH_FEN == 223_500
    assert judgement.payee == Payee("person", "刘*梅", person_id=WORKER)
    assert detail(judgement, "insurances_covered") == (
        "covered: pension, medical, unemployment in every claimed month; "
        "work injury and maternity too in 2018-04, 2018-05, 2018-06 (age_4050 held)"
    )


async def test_a_veteran_gets_pension_medical_and_unemployment_only() -> None:
    judgement = await judge(Case(categories=[category("veteran")]))
    assert judgement.eligible, judgement.checks
    assert judgement.amount_fen == 3 * BASE_MONTH_FEN == 217_500
    assert detail(judgement, "insurances_covered") == (
        "covered: pension, medical, unemployment in every claimed month; work injury and maternity only for "
        "age_4050, low_income_family, zero_employment_family, recent_graduate, none held in the claimed months"
    )


@pytest.mark.parametrize("code", ["age_4050", "low_income_family", "zero_employment_family", "recent_graduate"])
async def test_the_four_groups_of_the_plan_are_covered_for_work_injury_and_maternity(code: str) -> None:
    judgement = await judge(Case(categories=[category(code)]))
    assert judgement.eligible
    assert judgement.amount_fen == 3 * EXTENDED_MONTH_FEN


@pytest.mark.parametrize(
    "code", ["rural_poor", "disabled", "veteran", "capacity_reduction_worker", "extreme_poverty", RESTRICTED_DIFFICULTY]
)
async def test_the_other_difficulties_are_covered_for_the_three_base_insurances(code: str) -> None:
    judgement = await judge(Case(categories=[category(code)]))
    assert judgement.eligible, judgement.checks
    assert judgement.amount_fen == 3 * BASE_MONTH_FEN


async def test_a_restricted_difficulty_is_a_difficulty_without_showing_its_kind() -> None:
    judgement = await judge(Case(categories=[category(RESTRICTED_DIFFICULTY, source="restricted")]))
    assert detail(judgement, "has_difficulty") == (
        "a difficulty category held in each claimed month: restricted_difficulty [restricted, 2018-01-01..open]"
    )


async def test_only_the_insurances_actually_paid_in_a_month_are_subsidised() -> None:
    paid = [
        ContributionMonth.model_validate({"month": "2018-04", "insurances": ALL_FIVE}),
        ContributionMonth.model_validate({"month": "2018-05", "insurances": ["pension", "medical"]}),
        ContributionMonth.model_validate({"month": "2018-06", "insurances": ["medical", "maternity"]}),
    ]
    judgement = await judge(Case(employment_changes={"contribution_months": paid}))
    assert judgement.eligible
    assert judgement.amount_fen == EXTENDED_MONTH_FEN + (50_000 + 20_000) + (20_000 + 1_000)
    assert detail(judgement, "months_paid") == (
        f"contributions paid in employment {EMPLOYMENT}: 2018-04 (pension, medical, unemployment, work_injury, "
        "maternity); 2018-05 (pension, medical); 2018-06 (medical, maternity)"
    )


async def test_a_month_paid_only_to_uncovered_insurances_is_not_a_paid_month() -> None:
    paid = [ContributionMonth.model_validate({"month": "2018-04", "insurances": ["work_injury", "maternity"]})]
    judgement = await judge(
        Case(categories=[category("veteran")], employment_changes={"contribution_months": paid}, claimed=("2018-04",))
    )
    assert not judgement.eligible and set(judgement.failed_rules) == {"months_paid"}
    assert "2018-04 (only work_injury, maternity, not covered)" in detail(judgement, "months_paid")
    assert judgement.amount_fen == 0


async def test_a_category_counts_only_for_the_months_it_was_held() -> None:
    judgement = await judge(Case(categories=[category("age_4050", date(2018, 5, 10))]))
    assert set(judgement.failed_rules) == {"has_difficulty"}
    assert detail(judgement, "has_difficulty").startswith("no difficulty category held in 2018-04;")
    # Held from May on: May and June are covered with the plan's extension, April without it.
    assert judgement.amount_fen == 2 * EXTENDED_MONTH_FEN + BASE_MONTH_FEN


async def test_a_group_that_ended_before_the_claim_does_not_extend_the_coverage() -> None:
    ended = category("age_4050", date(2017, 1, 1), valid_until=date(2018, 3, 31))
    judgement = await judge(Case(categories=[ended, category("veteran")]))
    assert judgement.eligible
    assert judgement.amount_fen == 3 * BASE_MONTH_FEN


async def test_an_employer_is_paid_for_its_employee() -> None:
    judgement = await judge(employee_case())
    assert judgement.eligible, judgement.checks
    assert judgement.amount_fen == 3 * EXTENDED_MONTH_FEN
    assert judgement.payee == Payee("employer", "荣昌陶瓷有限公司", credit_code=EMPLOYER)
    assert detail(judgement, "payee_rule") == (
        f"employee employment pays the employer: the applicant must be {EMPLOYER} (荣昌陶瓷有限公司); "
        f"the applicant is employer {EMPLOYER}"
    )


@pytest.mark.parametrize("kind", ["self_employed", "public_welfare_post"])
async def test_any_kind_but_flexible_work_pays_the_employer(kind: str) -> None:
    judgement = await judge(employee_case(employment_changes={"kind": kind}))
    assert judgement.eligible
    assert judgement.payee == Payee("employer", "荣昌陶瓷有限公司", credit_code=EMPLOYER)


async def test_an_open_employment_runs_to_the_current_month() -> None:
    case = Case(employment_changes={"contribution_months": months("2018-04", 9, ALL_FIVE)}, claimed=("2018-12",))
    judgement = await judge(case)
    assert judgement.eligible
    assert detail(judgement, "months_in_employment") == (
        "all 1 claimed months lie within the employment 2018-04..2018-12 (started 2018-04-01, not ended on 2018-12-15)"
    )


async def test_the_month_an_employment_ends_may_be_claimed() -> None:
    judgement = await judge(Case(employment_changes={"ended_on": date(2018, 6, 3)}))
    assert judgement.eligible


# --- each rule failing alone -----------------------------------------------------------------------

FAILING: dict[str, tuple[Case, str]] = {
    "employment_of_beneficiary": (
        Case(employment_changes={"person_id": SOMEONE_ELSE}),
        f"employment {EMPLOYMENT} belongs to person {SOMEONE_ELSE}, not to the beneficiary {WORKER}",
    ),
    "payee_rule": (
        Case(applicant=Applicant("employer", credit_code=EMPLOYER)),
        f"flexible work pays the worker: the applicant must be the beneficiary {WORKER}; "
        f"the applicant is employer {EMPLOYER}",
    ),
    "has_difficulty": (
        Case(categories=[category("age_4050", date(2017, 1, 1), valid_until=date(2018, 3, 31))]),
        "no difficulty category held in 2018-04, 2018-05, 2018-06; "
        "categories on record: age_4050 [registry, 2017-01-01..2018-03-31]",
    ),
    "months_in_employment": (
        Case(employment_changes={"ended_on": date(2018, 5, 20)}),
        "claimed months outside the employment 2018-04..2018-05 (started 2018-04-01, ended 2018-05-20): 2018-06",
    ),
    "months_paid": (
        Case(
            employment_changes={
                "contribution_months": [
                    *months("2018-04", 1, ALL_FIVE),
                    ContributionMonth.model_validate({"month": "2018-05", "insurances": []}),
                    *months("2018-07", 3, ALL_FIVE),
                ]
            }
        ),
        f"no covered contribution paid in employment {EMPLOYMENT} for: 2018-05 (recorded with no insurance), "
        "2018-06 (not recorded)",
    ),
    "months_not_paid_before": (
        Case(granted=(Grant("2018-05", APPLICATION, "paid", date(2018, 8, 1)),)),
        f"already granted for this beneficiary: 2018-05: application {APPLICATION} paid 2018-08-01",
    ),
    "alive": (Case(person_changes={"deceased_on": date(2018, 11, 1)}), "reported deceased on 2018-11-01"),
}


@pytest.mark.parametrize("rule", sorted(FAILING))
async def test_a_rule_failing_alone_fails_with_its_evidence(rule: str) -> None:
    case, evidence = FAILING[rule]
    judgement = await judge(case)
    assert judgement.failed_rules == [rule]
    assert detail(judgement, rule) == evidence


def test_every_rule_but_insurances_covered_has_a_failing_case() -> None:
    assert set(FAILING) == set(RULES) - {"insurances_covered"}


async def test_no_difficulty_at_all() -> None:
    judgement = await judge(Case(categories=[]))
    assert judgement.failed_rules == ["has_difficulty"]
    assert detail(judgement, "has_difficulty") == (
        "no difficulty category held in 2018-04, 2018-05, 2018-06; categories on record: none"
    )
    assert detail(judgement, "insurances_covered").startswith(
        "covered: pension, medical, unemployment in every claimed month; work injury"
    )


async def test_a_withdrawn_category_counts_only_up_to_its_withdrawal() -> None:
    withdrawn = category("age_4050", date(2017, 1, 1), withdrawn_on=date(2018, 3, 1))
    judgement = await judge(Case(categories=[withdrawn]))
    assert judgement.failed_rules == ["has_difficulty"]


async def test_months_before_the_employment_started_are_named() -> None:
    case = Case(
        employment_changes={"contribution_months": months("2018-02", 8, ALL_FIVE)}, claimed=("2018-02", "2018-03")
    )
    judgement = await judge(case)
    assert judgement.failed_rules == ["months_in_employment"]
    assert detail(judgement, "months_in_employment").endswith(": 2018-02, 2018-03")


async def test_a_future_month_is_outside_the_employment_and_unpaid() -> None:
    judgement = await judge(Case(claimed=("2019-01",)))
    assert judgement.failed_rules == ["months_in_employment", "months_paid"]


@pytest.mark.parametrize(
    ("applicant", "seen"),
    [
        (Applicant("employer", credit_code=OTHER_EMPLOYER), f"employer {OTHER_EMPLOYER}"),
        (Applicant("person", person_id=WORKER), f"person {WORKER}"),
    ],
)
async def test_an_employee_s_subsidy_is_applied_for_by_the_employer_the_employment_names(
    applicant: Applicant, seen: str
) -> None:
    judgement = await judge(employee_case(applicant=applicant))
    assert judgement.failed_rules == ["payee_rule"]
    assert detail(judgement, "payee_rule") == (
        f"employee employment pays the employer: the applicant must be {EMPLOYER} (荣昌陶瓷有限公司); "
        f"the applicant is {seen}"
    )


async def test_months_granted_before_are_each_named() -> None:
    grants = (
        Grant("2018-04", APPLICATION, "approved"),
        Grant("2018-06", APPLICATION, "paid", date(2018, 9, 1)),
    )
    judgement = await judge(Case(granted=grants))
    assert judgement.failed_rules == ["months_not_paid_before"]
    assert detail(judgement, "months_not_paid_before") == (
        f"already granted for this beneficiary: 2018-04: application {APPLICATION} (approved); "
        f"2018-06: application {APPLICATION} paid 2018-09-01"
    )


# --- the claim, the applicant, the gathering ----------------------------------------------------------


def test_the_claim_keeps_the_months_sorted_and_they_are_the_units() -> None:
    claim = PROGRAMME.parse_claim({"employment_id": str(EMPLOYMENT), "months": ["2018-06", "2017-12", "2018-04"]})
    assert claim == SocialInsuranceClaim(employment_id=EMPLOYMENT, months=["2017-12", "2018-04", "2018-06"])
    assert PROGRAMME.units(claim) == ["2017-12", "2018-04", "2018-06"]


def test_up_to_36_months_may_be_claimed() -> None:
    three_years = [m.month for m in months("2016-01", 36)]
    assert PROGRAMME.parse_claim({"employment_id": str(EMPLOYMENT), "months": three_years}).months == three_years


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"months": ["2018-04"]}, "employment_id"),
        ({"employment_id": str(EMPLOYMENT)}, "months"),
        ({"employment_id": str(EMPLOYMENT), "months": []}, "at least 1 item"),
        ({"employment_id": str(EMPLOYMENT), "months": [m.month for m in months("2016-01", 37)]}, "at most 36 items"),
        ({"employment_id": str(EMPLOYMENT), "months": ["2018-04", "2018-05", "2018-04"]}, "repeated: 2018-04"),
        ({"employment_id": str(EMPLOYMENT), "months": ["2018-13"]}, "YYYY-MM"),
        ({"employment_id": str(EMPLOYMENT), "months": ["2018-4"]}, "YYYY-MM"),
        ({"employment_id": str(EMPLOYMENT), "months": ["2018-04\n"]}, "YYYY-MM"),
        ({"employment_id": str(EMPLOYMENT), "months": "2018-04"}, "list"),
        ({"employment_id": "not-a-uuid", "months": ["2018-04"]}, "UUID"),
        ({"employment_id": str(EMPLOYMENT), "months": ["2018-04"], "training_id": str(uuid.uuid4())}, "extra"),
        ({"employment_id": str(EMPLOYMENT), "months": ["2018-04"], "business_credit_code": EMPLOYER}, "extra"),
    ],
)
def test_a_claim_lacking_or_naming_the_wrong_fields_is_refused(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PROGRAMME.parse_claim(fields)
    assert error in str(refused.value)


@pytest.mark.parametrize(
    ("applicant", "refused"),
    [
        (Applicant("employer", credit_code=EMPLOYER), False),
        (Applicant("employer", credit_code=OTHER_EMPLOYER), False),
        (Applicant("person", person_id=WORKER), False),
        (Applicant("person", person_id=SOMEONE_ELSE), True),
        (Applicant("person"), True),
    ],
)
def test_an_employer_or_the_beneficiary_may_apply(applicant: Applicant, refused: bool) -> None:
    error = PROGRAMME.applicant_error(applicant, WORKER, Case().claim())
    assert (error is not None) == refused
    if refused:
        assert error is not None and "must be the beneficiary" in error


async def test_gather_waits_for_a_person_not_seen_yet() -> None:
    facts = Case().facts()
    facts.persons.clear()
    with pytest.raises(Missing) as missing:
        await PROGRAMME.gather(facts, WORKER, Applicant("person", person_id=WORKER), Case().claim(), ())
    assert missing.value.what == [f"person {WORKER}"]


async def test_gather_waits_for_an_employment_not_seen_yet() -> None:
    facts = Case().facts()
    facts.employments.clear()
    with pytest.raises(Missing) as missing:
        await PROGRAMME.gather(facts, WORKER, Applicant("person", person_id=WORKER), Case().claim(), ())
    assert missing.value.what == [f"employment {EMPLOYMENT}"]


async def test_gather_names_everything_missing_at_once() -> None:
    with pytest.raises(Missing) as missing:
        await PROGRAMME.gather(MemoryFacts(), WORKER, Applicant("person", person_id=WORKER), Case().claim(), ())
    assert missing.value.what == [f"person {WORKER}", f"employment {EMPLOYMENT}"]
    assert str(missing.value) == f"person {WORKER}; employment {EMPLOYMENT}"


async def test_gather_reads_the_category_history_and_keeps_the_grants() -> None:
    grants = (Grant("2018-05", APPLICATION, "approved"),)
    evidence = await gathered(Case(categories=[category("veteran")], granted=grants))
    assert [c.category for c in evidence.categories] == [Category.veteran]
    assert evidence.employment.employment_id == EMPLOYMENT
    assert evidence.months == CLAIMED
    assert evidence.granted == grants


def test_the_class_attributes() -> None:
    assert PROGRAMME.code == "social_insurance"
    assert PROGRAMME.name == "社会保险补贴"
    assert PROGRAMME.payee_role == "employer_or_flexible_worker"
    assert PROGRAMME.one_time is False


# --- amounts from the settings -----------------------------------------------------------------------


def test_the_default_amounts() -> None:
    assert PROGRAMME.amounts == {
        "pension_fen": 50_000,
        "medical_fen": 20_000,
        "unemployment_fen": 2_500,
        "work_injury_fen": 1_000,
        "maternity_fen": 1_000,
    }


async def test_amounts_come_from_the_settings() -> None:
    settings = SocialInsuranceSettings(
        pension_fen=10_000, medical_fen=2_000, unemployment_fen=300, work_injury_fen=40, maternity_fen=5
    )
    programme = SocialInsurance(settings)
    assert (await judge(Case(), programme)).amount_fen == 3 * 12_345
    assert (await judge(Case(categories=[category("disabled")]), programme)).amount_fen == 3 * 12_300


def test_the_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBSIDY_SOCIAL_INSURANCE_PENSION_FEN", "60000")
    monkeypatch.setenv("SUBSIDY_SOCIAL_INSURANCE_MATERNITY_FEN", "1500")
    assert SocialInsurance().amounts == {
        "pension_fen": 60_000,
        "medical_fen": 20_000,
        "unemployment_fen": 2_500,
        "work_injury_fen": 1_000,
        "maternity_fen": 1_500,
    }


@pytest.mark.parametrize("name", ["pension_fen", "medical_fen", "unemployment_fen", "work_injury_fen", "maternity_fen"])
def test_a_rate_must_be_positive(name: str) -> None:
    with pytest.raises(ValidationError):
        SocialInsuranceSettings.model_validate({name: 0})


# --- properties --------------------------------------------------------------------------------------

MONTHS = [f"2018-{m:02d}" for m in range(1, 13)]
CATEGORY_CODES = [c.value for c in Category] + [RESTRICTED_DIFFICULTY]
EXTENSION = {"age_4050", "low_income_family", "zero_employment_family", "recent_graduate"}
rates = st.fixed_dictionaries({f"{i.value}_fen": st.integers(1, 1_000_000) for i in Insurance})
paid_months = st.dictionaries(st.sampled_from(MONTHS), st.frozensets(st.sampled_from(list(Insurance))))
claimed_months = st.sets(st.sampled_from(MONTHS), min_size=1)


def evidence_of(claimed: list[str], paid: dict[str, frozenset[Insurance]], codes: list[str]) -> SocialInsuranceEvidence:
    work = employment(
        WORKER,
        EMPLOYER,
        employment_id=EMPLOYMENT,
        kind="flexible",
        started_on=date(2018, 1, 1),
        contribution_months=[
            ContributionMonth(month=m, insurances=[i for i in Insurance if i in insurances])
            for m, insurances in paid.items()
        ],
    )
    return SocialInsuranceEvidence(
        person(person_id=WORKER),
        [category(code) for code in codes],
        work,
        Applicant("person", person_id=WORKER),
        tuple(claimed),
        (),
    )


@given(
    rates=rates,
    claimed=claimed_months,
    paid=paid_months,
    codes=st.lists(st.sampled_from(CATEGORY_CODES), max_size=3),
)
def test_the_amount_is_the_sum_over_months_of_the_covered_insurances_paid(
    rates: dict[str, int], claimed: set[str], paid: dict[str, frozenset[Insurance]], codes: list[str]
) -> None:
    programme = SocialInsurance(SocialInsuranceSettings.model_validate(rates))
    evidence = evidence_of(sorted(claimed), paid, codes)
    covered = {Insurance.pension, Insurance.medical, Insurance.unemployment}
    if EXTENSION.intersection(codes):
        covered |= {Insurance.work_injury, Insurance.maternity}
    expected = 0
    for month, insurance in itertools.product(claimed, Insurance):
        if insurance in covered and insurance in paid.get(month, frozenset()):
            expected += rates[f"{insurance.value}_fen"]
    amount = programme.amount_fen(evidence, TODAY)
    assert amount == expected
    assert 0 <= amount <= len(claimed) * sum(rates.values())


@given(rates=rates, claimed=claimed_months, paid=paid_months, data=st.data())
def test_the_amount_never_depends_on_the_order_of_the_claimed_months(
    rates: dict[str, int], claimed: set[str], paid: dict[str, frozenset[Insurance]], data: st.DataObject
) -> None:
    programme = SocialInsurance(SocialInsuranceSettings.model_validate(rates))
    shuffled = data.draw(st.permutations(sorted(claimed)))
    claim = programme.parse_claim({"employment_id": str(EMPLOYMENT), "months": shuffled})
    assert claim.months == sorted(claimed)
    in_order = programme.amount_fen(evidence_of(sorted(claimed), paid, ["age_4050"]), TODAY)
    assert programme.amount_fen(evidence_of(claim.months, paid, ["age_4050"]), TODAY) == in_order
    assert programme.amount_fen(evidence_of(shuffled, paid, ["age_4050"]), TODAY) == in_order


@given(claimed=claimed_months, paid=paid_months)
def test_months_paid_names_exactly_the_claimed_months_without_a_paid_covered_insurance(
    claimed: set[str], paid: dict[str, frozenset[Insurance]]
) -> None:
    checks = {c.rule: c for c in PROGRAMME.checks(evidence_of(sorted(claimed), paid, ["veteran"]), TODAY)}
    # A veteran's months are covered for pension, medical and unemployment only.
    base = {Insurance.pension, Insurance.medical, Insurance.unemployment}
    unpaid = sorted(m for m in claimed if not base.intersection(paid.get(m, frozenset())))
    assert checks["months_paid"].passed == (not unpaid)
    named = {m for m in MONTHS if m in checks["months_paid"].detail}
    assert named == (set(unpaid) if unpaid else set(claimed))


@given(
    claimed=claimed_months,
    started=st.integers(1, 12),
    ended=st.one_of(st.none(), st.integers(1, 12)),
)
def test_months_in_employment_passes_iff_every_month_lies_in_the_employment(
    claimed: set[str], started: int, ended: int | None
) -> None:
    if ended is not None and ended < started:
        started, ended = ended, started
    evidence = evidence_of(sorted(claimed), {}, ["veteran"])
    changes: dict[str, Any] = {"started_on": date(2018, started, 28)}
    if ended is not None:
        changes["ended_on"] = date(2018, ended, 28)
    evidence = SocialInsuranceEvidence(
        evidence.person,
        evidence.categories,
        evidence.employment.model_copy(update=changes),
        evidence.applicant,
        evidence.months,
        evidence.granted,
    )
    last = ended if ended is not None else TODAY.month
    outside = sorted(m for m in claimed if not started <= int(m[5:]) <= last)
    check = next(c for c in PROGRAMME.checks(evidence, TODAY) if c.rule == "months_in_employment")
    assert check.passed == (not outside)
    if outside:
        assert check.detail.endswith(": " + ", ".join(outside))


@given(st.lists(st.sampled_from(MONTHS), min_size=2, max_size=36).filter(lambda ms: len(set(ms)) < len(ms)))
def test_a_repeated_month_is_always_refused(claimed: list[str]) -> None:
    with pytest.raises(ValidationError, match="repeated"):
        PROGRAMME.parse_claim({"employment_id": str(EMPLOYMENT), "months": claimed})
