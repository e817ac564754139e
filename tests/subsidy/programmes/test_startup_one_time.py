"""一次性创业补助 as a pure strategy: the plan's cases (an 应届毕业生 or a registered unemployed person of
a low-income, zero-employment, rural poor or disabled family, founding a first business that ran a
year, employs 3 and paid pension), each rule failing alone with its evidence, the claim, the payee
rule, `gather` against in-memory projections, the configured amount, and properties checked
against a brute-force reading."""

from __future__ import annotations

import calendar
import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.vocabulary import Programme as ProgrammeCode
from services.kit.identifiers import CREDIT_ALPHABET, credit_check_character
from services.subsidy.programmes.base import Applicant, BusinessRecord, Missing, Payee
from services.subsidy.programmes.rules import CategoryRecord, Check, Grant
from services.subsidy.programmes.startup_one_time import (
    StartupClaim,
    StartupEvidence,
    StartupOneTime,
    StartupSettings,
)
from tests.subsidy.programmes.facts import MemoryFacts, category, employment, months, person, registration


def credit_code(first17: str) -> str:
    return first17 + credit_check_character(first17)


BUSINESS = credit_code("92500226MA5U3P7X1")  # the founder's 个体工商户
EARLIER = credit_code("92500226MA4Q1K2B3")
ELSEWHERE = credit_code("91500226MA5U7K3X2")
TODAY = date(2019, 7, 1)
ESTABLISHED = date(2018, 5, 2)
PROGRAMME = StartupOneTime(StartupSettings())
RULES = [
    "founder_is_legal_representative",
    "founder_group",
    "first_business",
    "self_employed_12_months",
    "employs_3",
    "pension_paid",
    "never_paid_before",
    "alive",
]


@dataclass
class Case:
    """One founder and what the projections hold about them and their business."""

    founder: PersonSnapshot
    business: BusinessRecord
    categories: list[CategoryRecord] = field(default_factory=list)
    own: list[EmploymentSnapshot] = field(default_factory=list)
    staff: list[EmploymentSnapshot] = field(default_factory=list)
    other_businesses: list[BusinessRecord] = field(default_factory=list)
    granted: list[Grant] = field(default_factory=list)

    def evidence(self) -> StartupEvidence:
        """What `gather` returns for this case (checked by the gather tests below)."""
        own_there = [e for e in self.own if e.employer_credit_code == self.business.credit_code]
        return StartupEvidence(
            person=self.founder,
            categories=self.categories,
            business=self.business,
            founder_businesses=[self.business, *self.other_businesses],
            founder_employments=self.own,
            business_employments=own_there + self.staff,
            granted=self.granted,
        )

    def change(self, **changes: Any) -> Case:
        return dataclasses.replace(self, **changes)


def business(subject_ref: str, **changes: Any) -> BusinessRecord:
    base: dict[str, Any] = {
        "credit_code": BUSINESS,
        "name": "荣昌区刘记夏布工作室",
        "legal_rep_subject_ref": subject_ref,
        "established_on": ESTABLISHED,
    }
    base.update(changes)
    return BusinessRecord(**base)


def self_employment(founder: PersonSnapshot, **changes: Any) -> EmploymentSnapshot:
    base: dict[str, Any] = {
        "employer_name": "荣昌区刘记夏布工作室",
        "kind": "self_employed",
        "started_on": ESTABLISHED,
        "contribution_months": months("2018-05", 14, ("pension",)),
    }
    base.update(changes)
    return employment(founder.person_id, BUSINESS, **base)


def staff(count: int, **changes: Any) -> list[EmploymentSnapshot]:
    base: dict[str, Any] = {"employer_name": "荣昌区刘记夏布工作室", "started_on": date(2018, 6, 1)}
    base.update(changes)
    return [employment(uuid.uuid4(), BUSINESS, **base) for _ in range(count)]


def graduate_case(**person_changes: Any) -> Case:
    """The plan's 应届毕业生: founded the business in the year of graduating, ran it since."""
    founder = person(**{"graduated_on": date(2018, 6, 28), **person_changes})
    return Case(founder, business(founder.subject_ref), own=[self_employment(founder)], staff=staff(3))


def unemployed_case(code: str = "low_income_family") -> Case:
    """The plan's 登记失业的低保家庭人员 (or zero-employment, rural poor, disabled): registered unemployed
    when the business was established, holding the category since before."""
    founder = person(unemployment_registrations=[registration(date(2018, 3, 1), ESTABLISHED)], status="employed")
    return Case(
        founder,
        business(founder.subject_ref),
        categories=[category(code, date(2017, 1, 1), source="civil_affairs")],
        own=[self_employment(founder)],
        staff=staff(3),
    )


def checks(case: Case, today: date = TODAY) -> list[Check]:
    return PROGRAMME.checks(case.evidence(), today)


def failed(case: Case, today: date = TODAY) -> set[str]:
    return {c.rule for c in checks(case, today) if not c.passed}


def detail(case: Case, rule: str, today: date = TODAY) -> str:
    return next(c.detail for c in checks(case, today) if c.rule == rule)


# --- the plan's cases ---------------------------------------------------------------------------


def test_a_graduating_year_graduate_s_first_business_passes_every_rule_with_its_evidence() -> None:
    case = graduate_case()
    result = checks(case)
    assert [c.rule for c in result] == RULES
    assert failed(case) == set()
    details = {c.rule: c.detail for c in result}
    assert "the business's legal representative is the beneficiary" in details["founder_is_legal_representative"]
    assert BUSINESS in details["founder_is_legal_representative"]
    assert "graduating-year college graduate" in details["founder_group"]
    assert "graduates on 2018-06-28" in details["founder_group"]
    assert "no business of the same legal representative established before 2018-05-02" in details["first_business"]
    assert (
        "started 2018-05-02, still operating on 2019-07-01: 14 full months (12 needed)"
        in (details["self_employed_12_months"])
    )
    assert f"3 other person(s) employed at {BUSINESS} on 2019-07-01 (3 needed)" in details["employs_3"]
    assert "14 pension months paid" in details["pension_paid"]
    assert "(2018-05..2019-06; 12 needed)" in details["pension_paid"]
    assert "no other application was granted this grant" in details["never_paid_before"]
    assert "no death recorded" in details["alive"]


@pytest.mark.parametrize("code", ["low_income_family", "zero_employment_family", "rural_poor", "disabled"])
def test_a_registered_unemployed_founder_of_each_named_family_passes(code: str) -> None:
    case = unemployed_case(code)
    assert failed(case) == set()
    group = detail(case, "founder_group")
    assert f"registered unemployed with {code}" in group
    assert "registered 2018-03-01, closed 2018-05-02" in group
    assert "no college graduation on record" in group


def test_a_founder_both_graduating_and_registered_names_both_groups() -> None:
    case = unemployed_case("rural_poor")
    case = case.change(founder=case.founder.model_copy(update={"graduated_on": date(2018, 1, 15)}))
    assert "graduating-year college graduate and registered unemployed with rural_poor" in detail(case, "founder_group")


def test_the_subject_ref_is_compared_but_never_printed() -> None:
    case = graduate_case()
    stranger = "a" * 64
    for each in (case, case.change(business=business(stranger))):
        for check in checks(each):
            assert case.founder.subject_ref not in check.detail
            assert stranger not in check.detail


# --- each rule failing alone --------------------------------------------------------------------


def _not_legal_rep() -> Case:
    return graduate_case().change(business=business("b" * 64))


def _graduated_the_year_before_founding() -> Case:
    return graduate_case(graduated_on=date(2017, 6, 30))


def _unemployed_without_a_named_family() -> Case:
    return unemployed_case().change(categories=[category("age_4050"), category("veteran"), category("recent_graduate")])


def _family_without_registration_on_the_day() -> Case:
    case = unemployed_case()
    # Registered, but closed the day before the business was established.
    founder = case.founder.model_copy(
        update={"unemployment_registrations": [registration(date(2018, 3, 1), date(2018, 5, 1))]}
    )
    return case.change(founder=founder)


def _family_ended_before_establishment() -> Case:
    return unemployed_case().change(
        categories=[category("low_income_family", date(2017, 1, 1), valid_until=date(2018, 5, 1))]
    )


def _earlier_business() -> Case:
    case = graduate_case()
    earlier = business(
        case.founder.subject_ref,
        credit_code=EARLIER,
        name="荣昌区刘记陶艺店",
        established_on=date(2016, 3, 1),
        deregistered_on=date(2017, 1, 10),
    )
    return case.change(other_businesses=[earlier])


def _eleven_months() -> Case:
    case = graduate_case()
    # Started a day after the anniversary eve: 2018-07-03..2019-07-01 is 11 full months; the 12
    # pension months 2018-07..2019-06 lie inside it.
    return case.change(own=[self_employment(case.founder, started_on=date(2018, 7, 3))])


def _closed_after_eleven_months() -> Case:
    case = graduate_case()
    own = self_employment(case.founder, ended_on=date(2019, 4, 30), contribution_months=months("2018-05", 12))
    return case.change(own=[own])


def _two_employees() -> Case:
    return graduate_case().change(staff=staff(2))


def _eleven_pension_months() -> Case:
    case = graduate_case()
    return case.change(own=[self_employment(case.founder, contribution_months=months("2018-05", 11, ("pension",)))])


def _paid_before() -> Case:
    return graduate_case().change(granted=[Grant("once", uuid.uuid4(), "paid", date(2019, 3, 1))])


def _deceased() -> Case:
    return graduate_case(deceased_on=date(2019, 6, 20))


ALONE: dict[str, tuple[Any, str, str]] = {
    "not_legal_rep": (_not_legal_rep, "founder_is_legal_representative", "legal representative is not the beneficiary"),
    "graduated_before_founding": (
        _graduated_the_year_before_founding,
        "founder_group",
        "graduates on 2017-06-30, not in 2018",
    ),
    "no_named_family": (_unemployed_without_a_named_family, "founder_group", "categories held at or after 2018-05-02"),
    "not_registered_on_the_day": (
        _family_without_registration_on_the_day,
        "founder_group",
        "not registered unemployed on the establishment day 2018-05-02 (registrations: registered 2018-03-01, "
        "closed 2018-05-01)",
    ),
    "family_ended_before": (
        _family_ended_before_establishment,
        "founder_group",
        "held at or after 2018-05-02: none; not counted (ended before that day or not yet started): "
        "low_income_family [registry, 2017-01-01..2018-05-01]",
    ),
    "earlier_business": (
        _earlier_business,
        "first_business",
        f"1 business(es) before 2018-05-02: {EARLIER} "
        "(荣昌区刘记陶艺店, established 2016-03-01, deregistered 2017-01-10)",
    ),
    "eleven_months": (_eleven_months, "self_employed_12_months", "still operating on 2019-07-01: 11 full months"),
    "closed_early": (
        _closed_after_eleven_months,
        "self_employed_12_months",
        "started 2018-05-02, ended 2019-04-30: 11 full months (12 needed)",
    ),
    "two_employees": (_two_employees, "employs_3", f"2 other person(s) employed at {BUSINESS} on 2019-07-01"),
    "eleven_pension_months": (_eleven_pension_months, "pension_paid", "11 pension months paid"),
    "paid_before": (_paid_before, "never_paid_before", "already granted for this beneficiary: application"),
    "deceased": (_deceased, "alive", "reported deceased on 2019-06-20"),
}


@pytest.mark.parametrize("name", sorted(ALONE))
def test_each_rule_fails_alone_with_its_evidence(name: str) -> None:
    build, rule, evidence = ALONE[name]
    case = build()
    assert failed(case) == {rule}
    assert evidence in detail(case, rule)


def test_every_rule_is_covered_by_a_failing_case() -> None:
    assert {rule for _, rule, _ in ALONE.values()} == set(RULES)


def test_the_earlier_grant_is_named() -> None:
    grant = Grant("once", uuid.uuid4(), "paid", date(2019, 3, 1))
    case = graduate_case().change(granted=[grant])
    assert f"application {grant.application_id} paid 2019-03-01" in detail(case, "never_paid_before")


# --- founder_group ------------------------------------------------------------------------------


def test_a_student_who_founded_in_the_year_of_graduating_counts_even_before_the_day() -> None:
    assert failed(graduate_case(graduated_on=date(2018, 12, 31))) == set()


def test_a_graduate_of_the_year_after_founding_does_not_count() -> None:
    case = graduate_case(graduated_on=date(2019, 6, 30))
    assert failed(case) == {"founder_group"}
    assert "not in 2018" in detail(case, "founder_group")


def test_a_named_family_without_any_registration_does_not_count() -> None:
    case = unemployed_case()
    case = case.change(founder=case.founder.model_copy(update={"unemployment_registrations": []}))
    assert failed(case) == {"founder_group"}
    assert "registrations: none" in detail(case, "founder_group")


def test_a_registration_opened_the_day_of_establishment_counts() -> None:
    case = unemployed_case()
    founder = case.founder.model_copy(update={"unemployment_registrations": [registration(ESTABLISHED, None)]})
    assert failed(case.change(founder=founder)) == set()


def test_a_category_gained_after_establishment_counts() -> None:
    # Held "at or after" the day the business was established: a family that became low-income later.
    case = unemployed_case().change(categories=[category("low_income_family", date(2018, 9, 1))])
    assert failed(case) == set()


def test_a_category_that_starts_after_today_does_not_count() -> None:
    case = unemployed_case().change(categories=[category("low_income_family", TODAY + timedelta(days=1))])
    assert failed(case) == {"founder_group"}


def test_a_restricted_difficulty_is_none_of_the_named_families() -> None:
    case = unemployed_case().change(categories=[category("restricted_difficulty", source="restricted")])
    assert failed(case) == {"founder_group"}
    assert "neither a graduating-year college graduate nor registered unemployed holding one of" in detail(
        case, "founder_group"
    )


# --- first_business -----------------------------------------------------------------------------


def test_a_later_business_of_the_same_founder_does_not_make_this_one_second() -> None:
    case = graduate_case()
    later = business(case.founder.subject_ref, credit_code=EARLIER, established_on=date(2019, 1, 1))
    assert failed(case.change(other_businesses=[later])) == set()


def test_a_business_established_the_same_day_is_not_an_earlier_one() -> None:
    case = graduate_case()
    twin = business(case.founder.subject_ref, credit_code=EARLIER, established_on=ESTABLISHED)
    assert failed(case.change(other_businesses=[twin])) == set()


def test_the_earlier_businesses_are_named_in_order() -> None:
    case = graduate_case()
    first = business(case.founder.subject_ref, credit_code=ELSEWHERE, name="甲", established_on=date(2015, 1, 5))
    second = business(case.founder.subject_ref, credit_code=EARLIER, name="乙", established_on=date(2017, 2, 5))
    text = detail(case.change(other_businesses=[second, first]), "first_business")
    assert "2 business(es) before 2018-05-02" in text
    assert text.index(ELSEWHERE) < text.index(EARLIER)


# --- self_employed_12_months and pension_paid ---------------------------------------------------


def test_twelve_full_months_exactly_pass() -> None:
    case = graduate_case()
    # 2018-07-02..2019-07-01 is exactly 12 full months.
    own = self_employment(case.founder, started_on=date(2018, 7, 2))
    assert "12 full months" in detail(case.change(own=[own]), "self_employed_12_months")
    assert failed(case.change(own=[own])) == set()


def test_an_employee_post_at_the_business_is_not_self_employment() -> None:
    case = graduate_case()
    hired = self_employment(case.founder, kind="employee")
    case = case.change(own=[hired])
    assert failed(case) == {"self_employed_12_months", "pension_paid"}
    assert f"no self_employed employment of the beneficiary at {BUSINESS}" in detail(case, "self_employed_12_months")
    assert "the beneficiary's employments there: employee" in detail(case, "self_employed_12_months")
    assert "no self_employed employment" in detail(case, "pension_paid")


def test_self_employment_at_another_credit_code_does_not_count() -> None:
    case = graduate_case()
    case = case.change(
        own=[employment(case.founder.person_id, ELSEWHERE, kind="self_employed", started_on=ESTABLISHED)]
    )
    assert failed(case) == {"self_employed_12_months", "pension_paid"}
    assert "no employment of theirs there" in detail(case, "self_employed_12_months")


def test_the_longest_self_employment_at_the_business_is_read() -> None:
    case = graduate_case()
    short = self_employment(case.founder, started_on=date(2019, 5, 1), contribution_months=months("2019-05", 2))
    long = self_employment(case.founder)
    case = case.change(own=[short, long])
    assert failed(case) == set()
    assert str(long.employment_id) in detail(case, "self_employed_12_months")
    assert str(long.employment_id) in detail(case, "pension_paid")


def test_only_pension_months_inside_the_self_employment_count() -> None:
    case = graduate_case()
    # Eight months paid before the business existed (as someone's employee, say) and 10 in it.
    paid = months("2017-09", 8, ("pension",)) + months("2018-05", 10, ("pension",))
    case = case.change(own=[self_employment(case.founder, contribution_months=paid)])
    assert failed(case) == {"pension_paid"}
    text = detail(case, "pension_paid")
    assert "10 pension months paid" in text
    assert "8 recorded pension months outside 2018-05..2019-07 not counted" in text


def test_months_paid_without_pension_do_not_count() -> None:
    case = graduate_case()
    paid = months("2018-05", 14, ("medical", "unemployment"))
    case = case.change(own=[self_employment(case.founder, contribution_months=paid)])
    assert failed(case) == {"pension_paid"}
    assert "no pension month paid" in detail(case, "pension_paid")


# --- employs_3 ----------------------------------------------------------------------------------


def test_an_employment_ended_today_is_not_open_today() -> None:
    case = graduate_case().change(staff=[*staff(2), *staff(1, ended_on=TODAY)])
    assert failed(case) == {"employs_3"}
    assert "1 more recorded there whose employment ended by then or starts later, not counted" in detail(
        case, "employs_3"
    )


def test_an_employment_ending_tomorrow_is_open_today() -> None:
    case = graduate_case().change(staff=[*staff(2), *staff(1, ended_on=TODAY + timedelta(days=1))])
    assert failed(case) == set()


def test_one_person_with_two_posts_counts_once_and_the_founder_not_at_all() -> None:
    case = graduate_case()
    twice = uuid.uuid4()
    posts = [employment(twice, BUSINESS, started_on=date(2018, 6, 1)) for _ in range(2)]
    # The founder's own self-employment is in `business_employments`; a second post of theirs too.
    founder_post = employment(case.founder.person_id, BUSINESS, started_on=date(2018, 6, 1))
    case = case.change(staff=[*staff(1), *posts, founder_post])
    assert failed(case) == {"employs_3"}
    assert "2 other person(s)" in detail(case, "employs_3")


# --- claim, applicant, payee, amount ------------------------------------------------------------


def test_the_programme_s_attributes() -> None:
    assert PROGRAMME.code == ProgrammeCode.startup_one_time
    assert PROGRAMME.name == "一次性创业补助"
    assert PROGRAMME.one_time is True
    assert PROGRAMME.payee_role == "founder"
    assert PROGRAMME.units(StartupClaim(business_credit_code=BUSINESS)) == ["once"]
    assert PROGRAMME.amounts == {"amount_fen": 500_000}


def test_the_claim_names_the_business_credit_code() -> None:
    assert PROGRAMME.parse_claim({"business_credit_code": BUSINESS}) == StartupClaim(business_credit_code=BUSINESS)
    # Normalized as every service does: upper case, no surrounding blanks.
    assert PROGRAMME.parse_claim({"business_credit_code": f" {BUSINESS.lower()} "}).business_credit_code == BUSINESS


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"business_credit_code": BUSINESS, "employment_id": str(uuid.uuid4())},
        {"business_credit_code": BUSINESS[:17] + ("0" if BUSINESS[17] != "0" else "1")},
        {"business_credit_code": "123"},
        {"business_credit_code": None},
    ],
    ids=["missing", "extra_field", "wrong_check_character", "too_short", "null"],
)
def test_the_claim_refuses_what_is_missing_extra_or_invalid(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PROGRAMME.parse_claim(fields)


def test_the_founder_applies_for_themself() -> None:
    founder = uuid.uuid4()
    claim = StartupClaim(business_credit_code=BUSINESS)
    assert PROGRAMME.applicant_error(Applicant("person", person_id=founder), founder, claim) is None
    for applicant in (
        Applicant("person", person_id=uuid.uuid4()),
        Applicant("employer", credit_code=BUSINESS),
        Applicant("person"),
    ):
        error = PROGRAMME.applicant_error(applicant, founder, claim)
        assert error is not None
        assert "pays the founder" in error


def test_the_founder_is_paid_under_the_masked_name() -> None:
    case = graduate_case(name_masked="王*")
    applicant = Applicant("person", person_id=case.founder.person_id)
    assert PROGRAMME.payee(case.evidence(), applicant) == Payee("person", "王*", person_id=case.founder.person_id)


def test_the_amount_is_the_setting() -> None:
    evidence = graduate_case().evidence()
    assert PROGRAMME.amount_fen(evidence, TODAY) == 500_000
    assert StartupOneTime(StartupSettings(amount_fen=800_000)).amount_fen(evidence, TODAY) == 800_000
    judgement = StartupOneTime(StartupSettings(amount_fen=300_000)).judge(
        evidence, Applicant("person", person_id=evidence.person.person_id), TODAY
    )
    assert judgement.eligible
    assert judgement.amount_fen == 300_000


def test_the_amount_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBSIDY_STARTUP_ONE_TIME_AMOUNT_FEN", "650000")
    assert StartupOneTime().amount_fen(graduate_case().evidence(), TODAY) == 650_000


@pytest.mark.parametrize("amount", [0, -1])
def test_the_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(ValidationError):
        StartupSettings(amount_fen=amount)


# --- gather -------------------------------------------------------------------------------------


def memory_of(case: Case) -> MemoryFacts:
    """The projections holding the case, plus a stranger with a business and a post of their own."""
    stranger = person(name_masked="张*三")
    strangers_business = business(stranger.subject_ref, credit_code=ELSEWHERE, name="荣昌区张记面馆")
    everything = [
        *case.own,
        *case.staff,
        employment(stranger.person_id, ELSEWHERE, kind="self_employed"),
    ]
    return MemoryFacts(
        persons={case.founder.person_id: case.founder, stranger.person_id: stranger},
        category_history={case.founder.person_id: case.categories, stranger.person_id: [category("rural_poor")]},
        employments={e.employment_id: e for e in everything},
        businesses={b.credit_code: b for b in [case.business, *case.other_businesses, strangers_business]},
    )


def key(e: EmploymentSnapshot) -> str:
    return str(e.employment_id)


async def test_gather_reads_the_founder_the_business_and_what_they_need() -> None:
    case = unemployed_case()
    earlier = business(case.founder.subject_ref, credit_code=EARLIER, established_on=date(2016, 3, 1))
    elsewhere = employment(case.founder.person_id, EARLIER, kind="self_employed", started_on=date(2016, 3, 1))
    case = case.change(other_businesses=[earlier], own=[*case.own, elsewhere])
    granted = [Grant("once", uuid.uuid4(), "approved")]
    applicant = Applicant("person", person_id=case.founder.person_id)
    claim = StartupClaim(business_credit_code=BUSINESS)

    evidence = await PROGRAMME.gather(memory_of(case), case.founder.person_id, applicant, claim, granted)

    expected = case.change(granted=granted).evidence()
    assert evidence.person == expected.person
    assert evidence.business == expected.business
    assert list(evidence.categories) == list(expected.categories)
    assert evidence.granted == granted
    assert {b.credit_code for b in evidence.founder_businesses} == {BUSINESS, EARLIER}
    assert sorted(evidence.founder_employments, key=key) == sorted(expected.founder_employments, key=key)
    assert sorted(evidence.business_employments, key=key) == sorted(expected.business_employments, key=key)
    assert [c.rule for c in PROGRAMME.checks(evidence, TODAY) if not c.passed] == [
        "first_business",
        "never_paid_before",
    ]


async def gather(facts: MemoryFacts, beneficiary: uuid.UUID, code: str) -> StartupEvidence:
    claim = StartupClaim(business_credit_code=code)
    return await PROGRAMME.gather(facts, beneficiary, Applicant("person", person_id=beneficiary), claim, [])


async def test_gather_waits_for_an_unseen_person() -> None:
    case = graduate_case()
    facts = memory_of(case)
    del facts.persons[case.founder.person_id]
    with pytest.raises(Missing) as raised:
        await gather(facts, case.founder.person_id, BUSINESS)
    assert raised.value.what == [f"person {case.founder.person_id}"]


async def test_gather_waits_for_an_unseen_business() -> None:
    case = graduate_case()
    unseen = credit_code("92500226MA6X8Y9T0")
    with pytest.raises(Missing) as raised:
        await gather(memory_of(case), case.founder.person_id, unseen)
    assert raised.value.what == [f"business {unseen}"]


async def test_gather_names_everything_unseen_at_once() -> None:
    beneficiary = uuid.uuid4()
    with pytest.raises(Missing) as raised:
        await gather(MemoryFacts(), beneficiary, BUSINESS)
    assert raised.value.what == [f"person {beneficiary}", f"business {BUSINESS}"]
    assert str(raised.value) == f"person {beneficiary}; business {BUSINESS}"


# --- properties ---------------------------------------------------------------------------------

days = st.dates(min_value=date(2015, 1, 1), max_value=date(2021, 12, 31))


def anniversary(start: date, count: int) -> date:
    """The `count`-th monthly anniversary of `start`, the month's last day when it is shorter."""
    year, month = start.year + (start.month - 1 + count) // 12, (start.month - 1 + count) % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def brute_force_months(start: date, last_day: date) -> int:
    """Counts every anniversary that falls on or before the day after the last day."""
    return sum(1 for count in range(1, 120) if anniversary(start, count) <= last_day + timedelta(days=1))


@given(
    start=days,
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=900)),
    today_after=st.integers(min_value=-30, max_value=900),
)
def test_self_employed_12_months_agrees_with_a_brute_force_count(
    start: date, length: int | None, today_after: int
) -> None:
    case = graduate_case()
    ended = None if length is None else start + timedelta(days=length)
    today = start + timedelta(days=today_after)
    case = case.change(own=[self_employment(case.founder, started_on=start, ended_on=ended)])
    last_day = today if ended is None else min(ended, today)
    expected = brute_force_months(start, last_day) if last_day >= start else 0
    check = next(c for c in checks(case, today) if c.rule == "self_employed_12_months")
    assert check.passed == (expected >= 12)
    assert f": {expected} full months (12 needed)" in check.detail


@given(
    start=days,
    paid=st.sets(st.integers(min_value=-24, max_value=40)),
    with_pension=st.booleans(),
    today_after=st.integers(min_value=0, max_value=900),
)
def test_pension_paid_counts_the_pension_months_inside_the_self_employment(
    start: date, paid: set[int], with_pension: bool, today_after: int
) -> None:
    today = start + timedelta(days=today_after)
    first = date(start.year, start.month, 1)
    paid_months = sorted(
        anniversary(first, offset) if offset >= 0 else _months_before(first, -offset) for offset in paid
    )
    insurances = ["pension", "medical"] if with_pension else ["medical"]
    contributions = [{"month": f"{d.year:04d}-{d.month:02d}", "insurances": insurances} for d in paid_months]
    case = graduate_case()
    case = case.change(own=[self_employment(case.founder, started_on=start, contribution_months=contributions)])
    inside = [d for d in paid_months if first <= d <= date(today.year, today.month, 1)] if with_pension else []
    check = next(c for c in checks(case, today) if c.rule == "pension_paid")
    assert check.passed == (len(inside) >= 12)
    if inside:
        assert f"{len(inside)} pension months paid" in check.detail


def _months_before(first: date, count: int) -> date:
    index = first.year * 12 + first.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


# Each employment at the business: (person, 0 being the founder; started days before today; ended
# days after today, or None).
posts = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6),
        st.integers(min_value=-30, max_value=400),
        st.one_of(st.none(), st.integers(min_value=-400, max_value=30)),
    ),
    max_size=12,
)


@given(posts=posts)
def test_employs_3_passes_iff_three_other_persons_are_employed_there_today(
    posts: list[tuple[int, int, int | None]],
) -> None:
    case = graduate_case()
    people = [case.founder.person_id, *(uuid.uuid4() for _ in range(6))]
    employments = [
        employment(
            people[who],
            BUSINESS,
            started_on=TODAY - timedelta(days=before),
            ended_on=None if after is None else TODAY + timedelta(days=after),
        )
        for who, before, after in posts
        if after is None or after >= -before  # an employment does not end before it starts
    ]
    open_today = {
        e.person_id
        for e in employments
        if e.person_id != case.founder.person_id
        and e.started_on <= TODAY
        and (e.ended_on is None or e.ended_on > TODAY)
    }
    case = case.change(staff=employments)
    check = next(c for c in checks(case) if c.rule == "employs_3")
    assert check.passed == (len(open_today) >= 3)
    assert check.detail.startswith(f"{len(open_today)} other person(s) employed at {BUSINESS}")


@given(offsets=st.lists(st.integers(min_value=-3000, max_value=400), max_size=5))
def test_first_business_passes_iff_no_other_business_is_older(offsets: list[int]) -> None:
    case = graduate_case()
    alphabet = [c for c in CREDIT_ALPHABET if c.isdigit()]
    others = [
        business(
            case.founder.subject_ref,
            credit_code=credit_code(f"92500226MA7{alphabet[i]}0000{alphabet[i]}"),
            established_on=ESTABLISHED + timedelta(days=offset),
        )
        for i, offset in enumerate(offsets)
    ]
    check = next(c for c in checks(case.change(other_businesses=others)) if c.rule == "first_business")
    assert check.passed == all(offset >= 0 for offset in offsets)
    for other, offset in zip(others, offsets, strict=True):
        assert (other.credit_code in check.detail) == (offset < 0)


group_codes = st.sets(
    st.sampled_from(
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
)


@given(
    codes=group_codes,
    registered=st.booleans(),
    graduated=st.one_of(st.none(), st.dates(min_value=date(2016, 1, 1), max_value=date(2021, 12, 31))),
)
def test_founder_group_is_a_graduating_year_graduate_or_a_registered_family_member(
    codes: set[str], registered: bool, graduated: date | None
) -> None:
    case = unemployed_case()
    registrations = [registration(date(2018, 3, 1), None)] if registered else []
    founder = case.founder.model_copy(update={"unemployment_registrations": registrations, "graduated_on": graduated})
    case = case.change(founder=founder, categories=[category(code) for code in codes])
    named = codes & {"low_income_family", "zero_employment_family", "rural_poor", "disabled"}
    expected = (graduated is not None and graduated.year == ESTABLISHED.year) or (registered and bool(named))
    assert ("founder_group" not in failed(case)) == expected


@given(
    died=st.dates(min_value=date(2018, 1, 1), max_value=TODAY),
    unemployed=st.booleans(),
    employees=st.integers(min_value=0, max_value=5),
    granted=st.booleans(),
)
def test_a_deceased_founder_is_never_eligible(died: date, unemployed: bool, employees: int, granted: bool) -> None:
    case = unemployed_case() if unemployed else graduate_case()
    case = case.change(
        founder=case.founder.model_copy(update={"deceased_on": died}),
        staff=staff(employees),
        granted=[Grant("once", uuid.uuid4(), "approved")] if granted else [],
    )
    judgement = PROGRAMME.judge(case.evidence(), Applicant("person", person_id=case.founder.person_id), TODAY)
    assert not judgement.eligible
    assert "alive" in judgement.failed_rules
