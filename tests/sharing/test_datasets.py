"""Dataset declarations: per-record validation and the facts accepted records become (no DB, no broker)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from contracts.facts import (
    BusinessAttributes,
    CapacityReductionAttributes,
    DibaoAttributes,
    GraduateAttributes,
    IdentityAttributes,
    LabourForceAttributes,
    RegisteredPoorAttributes,
)
from contracts.topics import SHARING_FACT, SHARING_SENSITIVE_FACT
from contracts.vocabulary import Agency, EducationLevel, HukouType
from services.kit.identifiers import mask_id_number, subject_ref
from services.sharing.datasets.catalog import CATALOG, Catalog
from services.sharing.datasets.civil_affairs import DATASETS as CIVIL_AFFAIRS
from services.sharing.datasets.civil_affairs import DibaoRecord
from services.sharing.datasets.declaration import AgencyRecord, Dataset, FactContent
from services.sharing.problems import UnknownAgency, UnknownDataset
from tests.sharing.factories import (
    credit_code,
    id_number,
    with_impossible_birth_date,
    with_wrong_check,
    with_wrong_credit_check,
)

KEY = b"unit-test-subject-key"
BUSINESS = credit_code()
DIBAO = CATALOG.get("civil_affairs", "dibao")
PERSON = id_number()


def errors_of(dataset: Dataset[Any], raw: object) -> list[tuple[str | None, str]]:
    result = dataset.validate_record(raw)
    assert isinstance(result, list), f"expected errors, got {result!r}"
    return [(error.field, error.message) for error in result]


def fact_of(dataset: Dataset[Any], raw: dict[str, Any], index: int = 0) -> Any:
    record = dataset.validate_record(raw)
    assert not isinstance(record, list), record
    return dataset.fact_for(record, subject_key=KEY, batch_id=uuid.uuid4(), record_index=index)


class TestDibaoValidation:
    def test_minimal_record_is_accepted(self) -> None:
        record = DIBAO.validate_record({"id_number": PERSON, "since": "2018-04-01"})
        assert record == DibaoRecord(id_number=PERSON, since=date(2018, 4, 1))

    def test_id_number_is_normalised(self) -> None:
        x_person = next(
            id_number(sequence=f"{n:03d}") for n in range(1, 999) if id_number(sequence=f"{n:03d}")[-1] == "X"
        )
        record = DIBAO.validate_record(
            {
                "id_number": f" {x_person.lower()} ",
                "household_no": " H-7 ",
                "since": "2018-04-01",
                "until": "2018-04-01",
            }
        )
        assert isinstance(record, DibaoRecord)
        assert record.id_number == x_person
        assert record.household_no == "H-7"
        assert record.until == record.since

    def test_every_field_error_of_a_record_is_reported(self) -> None:
        raw = {"id_number": with_wrong_check(PERSON), "since": "2018-02-30", "household_no": "", "untill": "2019-01-01"}
        assert errors_of(DIBAO, raw) == [
            ("id_number", "the check character of the id number is wrong"),
            ("household_no", "String should have at least 1 character"),
            ("since", "is not a calendar date"),
            ("untill", "is not a field of civil_affairs/dibao; its fields are id_number, household_no, since, until"),
        ]

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (
                {"id_number": PERSON[:17], "since": "2018-01-01"},
                [("id_number", "a resident id number has 18 characters, not 17")],
            ),
            (
                {"id_number": PERSON + "1", "since": "2018-01-01"},
                [("id_number", "a resident id number has 18 characters, not 19")],
            ),
            (
                {"id_number": "50015319900101123A", "since": "2018-01-01"},
                [("id_number", "a resident id number is 17 digits followed by a digit or X")],
            ),
            (
                {"id_number": 500153199001011236, "since": "2018-01-01"},
                [("id_number", "a resident id number is a string of 18 characters")],
            ),
            (
                {"id_number": with_impossible_birth_date(), "since": "2018-01-01"},
                [("id_number", "the birth date in the id number is not a calendar date")],
            ),
            (
                {"id_number": PERSON, "since": "2018-03-01", "until": "2018-02-28"},
                [("until", "must not be before since")],
            ),
            ({"id_number": PERSON, "since": "01/03/2018"}, [("since", "must be an ISO 8601 date written YYYY-MM-DD")]),
            ({"id_number": PERSON, "since": 20180301}, [("since", "must be an ISO 8601 date written YYYY-MM-DD")]),
            ({"id_number": PERSON}, [("since", "is required")]),
            ({"since": "2018-01-01"}, [("id_number", "is required")]),
            ({}, [("id_number", "is required"), ("since", "is required")]),
        ],
        ids=[
            "17 characters",
            "19 characters",
            "letter inside",
            "number not string",
            "impossible birth date",
            "until before since",
            "not ISO date",
            "date as number",
            "missing since",
            "missing id",
            "empty record",
        ],
    )
    def test_invalid_records_say_precisely_why(self, raw: object, expected: list[tuple[str, str]]) -> None:
        assert errors_of(DIBAO, raw) == expected

    def test_until_is_not_compared_when_since_itself_is_invalid(self) -> None:
        raw = {"id_number": PERSON, "since": "2018-13-01", "until": "2000-01-01"}
        assert errors_of(DIBAO, raw) == [("since", "is not a calendar date")]

    @pytest.mark.parametrize("raw", ["500153199001011236", ["a"], None, 7], ids=["string", "list", "null", "number"])
    def test_a_record_that_is_not_an_object_is_rejected_whole(self, raw: object) -> None:
        [(field, message)] = errors_of(DIBAO, raw)
        assert field is None
        assert message.startswith("a record is an object of named fields, not ")

    def test_error_messages_never_give_back_the_birth_date_hidden_by_masking(self) -> None:
        broken = with_impossible_birth_date(birth="19900230")
        messages = " ".join(message for _, message in errors_of(DIBAO, {"id_number": broken, "since": "x"}))
        assert "19900230" not in messages and "1990-02-30" not in messages


class TestDibaoFact:
    def test_fact_carries_validity_and_agreed_attributes_keyed_by_subject_ref(self) -> None:
        batch_id = uuid.uuid4()
        record = DIBAO.validate_record(
            {"id_number": PERSON, "household_no": "H-1", "since": "2018-04-01", "until": "2019-03-31"}
        )
        assert isinstance(record, DibaoRecord)
        fact = DIBAO.fact_for(record, subject_key=KEY, batch_id=batch_id, record_index=4)
        assert fact.agency == "civil_affairs" and fact.dataset == "dibao"
        assert fact.batch_id == batch_id and fact.record_index == 4
        assert fact.subject_ref == subject_ref(KEY, PERSON)
        assert fact.key == fact.subject_ref
        assert (fact.valid_from, fact.valid_until) == (date(2018, 4, 1), date(2019, 3, 31))
        assert fact.attributes == DibaoAttributes(household_no="H-1", since=date(2018, 4, 1), until=date(2019, 3, 31))
        assert fact.attributes.model_dump(mode="json") == {
            "dataset": "civil_affairs/dibao",
            "household_no": "H-1",
            "since": "2018-04-01",
            "until": "2019-03-31",
        }

    def test_open_ended_record_has_no_end(self) -> None:
        fact = fact_of(DIBAO, {"id_number": PERSON, "since": "2018-04-01"})
        assert fact.valid_until is None
        assert fact.attributes == DibaoAttributes(since=date(2018, 4, 1))

    def test_same_person_gets_same_subject_ref_however_written(self) -> None:
        upper = fact_of(DIBAO, {"id_number": PERSON, "since": "2018-04-01"})
        spaced = fact_of(DIBAO, {"id_number": f"  {PERSON.lower()}", "since": "2018-04-01"})
        assert upper.subject_ref == spaced.subject_ref
        assert upper.fact_id != spaced.fact_id

    def test_masked_subject_shows_area_and_last_four_only(self) -> None:
        assert DIBAO.masked_subject({"id_number": PERSON}) == PERSON[:6] + "********" + PERSON[14:]
        assert DIBAO.masked_subject({"id_number": with_wrong_check(PERSON)}) == (
            PERSON[:6] + "********" + with_wrong_check(PERSON)[14:]
        )
        assert DIBAO.masked_subject({"id_number": PERSON[:17]}) is None
        assert DIBAO.masked_subject({"id_number": 1}) is None
        assert DIBAO.masked_subject("not a record") is None

    @pytest.mark.parametrize(
        "shaped_wrong", [PERSON[:17] + "\ud800", "\u202e" + PERSON[1:], "ABCDEF" + PERSON[6:], "５" + PERSON[1:]]
    )
    def test_a_value_that_is_not_digits_is_not_masked_so_nothing_unstorable_is_kept(self, shaped_wrong: str) -> None:
        assert len(shaped_wrong) == 18
        assert DIBAO.masked_subject({"id_number": shaped_wrong}) is None


# One valid record per declared dataset: the test below fails when a dataset is declared without one.
SAMPLES: dict[str, dict[str, Any]] = {
    "civil_affairs/dibao": {"id_number": PERSON, "household_no": "H-1", "since": "2018-04-01"},
    "civil_affairs/extreme_poverty": {"id_number": PERSON, "since": "2018-04-01", "until": "2020-01-01"},
    "civil_affairs/veteran": {"id_number": PERSON, "discharged_on": "2016-09-01"},
    "public_security/identity": {
        "id_number": PERSON,
        "name": "张三",
        "hukou_type": "rural",
        "hukou_area_code": "500153",
        "household_no": "H-1",
        "deceased_on": "2020-02-02",
    },
    "public_security/special_population": {"id_number": PERSON, "kind": "drug_rehab", "since": "2017-05-01"},
    "disabled_federation/disability_certificate": {
        "id_number": PERSON,
        "certificate_no": PERSON + "42",
        "kind": "physical",
        "grade": 4,
        "valid_until": "2026-01-01",
    },
    "statistics/labour_force": {"period": "2018-06", "urban_employed_total": 120345},
    "education/graduate": {
        "id_number": PERSON,
        "school": "重庆文理学院",
        "level": "bachelor",
        "graduated_on": "2017-06-30",
    },
    "agriculture/registered_poor": {"id_number": PERSON, "household_no": "P-9", "since": "2016-01-01"},
    "market_supervision/business": {
        "credit_code": BUSINESS,
        "name": "荣昌区夏布制品有限公司",
        "legal_rep_id_number": PERSON,
        "established_on": "2018-05-20",
    },
    "hrss/capacity_reduction": {"id_number": PERSON, "employer_credit_code": BUSINESS, "since": "2016-07-01"},
}


class TestCatalog:
    def test_every_declared_dataset_has_a_sample_here(self) -> None:
        assert {dataset.code for dataset in CATALOG} == set(SAMPLES)

    def test_the_spec_datasets_are_declared(self) -> None:
        assert (
            CATALOG.agencies
            == sorted(Agency)
            == [
                "agriculture",
                "civil_affairs",
                "disabled_federation",
                "education",
                "hrss",
                "market_supervision",
                "public_security",
                "statistics",
            ]
        )
        assert all(isinstance(dataset.agency, Agency) for dataset in CATALOG)
        assert CATALOG.datasets_of(Agency.civil_affairs) == ["dibao", "extreme_poverty", "veteran"]
        assert {dataset.code for dataset in CATALOG} >= {
            "education/graduate",
            "agriculture/registered_poor",
            "market_supervision/business",
            "hrss/capacity_reduction",
        }

    @pytest.mark.parametrize("code", sorted(SAMPLES))
    def test_facts_never_carry_an_id_number_or_a_name(self, code: str) -> None:
        agency, name = code.split("/")
        dataset = CATALOG.get(agency, name)
        fact = fact_of(dataset, SAMPLES[code])
        text = fact.model_dump_json()
        assert PERSON not in text and PERSON[6:14] not in text
        assert "张三" not in text
        fields = set(type(fact.attributes).model_fields)
        assert not {"id_number", "legal_rep_id_number", "certificate_no"} & fields
        # A business's registered name is public; a person's name never leaves.
        assert "name" not in fields or code == "market_supervision/business"

    @pytest.mark.parametrize("code", sorted(SAMPLES))
    def test_every_fact_carries_its_own_dataset_s_typed_attributes(self, code: str) -> None:
        agency, name = code.split("/")
        fact = fact_of(CATALOG.get(agency, name), SAMPLES[code])
        assert fact.attributes.dataset == fact.code == code
        assert type(fact.attributes).model_validate(fact.attributes.model_dump(mode="json")) == fact.attributes

    @pytest.mark.parametrize("code", sorted(SAMPLES))
    def test_every_dataset_reports_all_missing_required_fields(self, code: str) -> None:
        agency, name = code.split("/")
        dataset = CATALOG.get(agency, name)
        assert errors_of(dataset, {}) == [(field, "is required") for field in dataset.required_fields]

    def test_person_datasets_are_keyed_by_subject_ref(self) -> None:
        for dataset in CATALOG:
            if dataset.subject_field is not None and dataset.key_field == dataset.subject_field:
                fact = fact_of(dataset, SAMPLES[dataset.code])
                assert fact.key == fact.subject_ref == subject_ref(KEY, PERSON)

    def test_only_special_populations_go_to_the_sensitive_topic(self) -> None:
        topics = {dataset.code: dataset.topic for dataset in CATALOG}
        assert topics.pop("public_security/special_population") == SHARING_SENSITIVE_FACT
        assert set(topics.values()) == {SHARING_FACT}

    def test_labour_force_is_an_aggregate_keyed_by_period(self) -> None:
        dataset = CATALOG.get("statistics", "labour_force")
        fact = fact_of(dataset, {"period": "2020-02", "urban_employed_total": "5"})
        assert fact.subject_ref is None
        assert fact.key == "2020-02"
        assert (fact.valid_from, fact.valid_until) == (date(2020, 2, 1), date(2020, 2, 29))
        assert fact.attributes == LabourForceAttributes(period="2020-02", urban_employed_total=5)
        assert errors_of(dataset, {"period": "2020-13", "urban_employed_total": -1}) == [
            ("period", "must be a month written YYYY-MM"),
            ("urban_employed_total", "Input should be greater than or equal to 0"),
        ]

    def test_disability_certificate_checks_kind_and_grade(self) -> None:
        dataset = CATALOG.get("disabled_federation", "disability_certificate")
        raw = {**SAMPLES[dataset.code], "kind": "other", "grade": 5}
        assert [field for field, _ in errors_of(dataset, raw)] == ["kind", "grade"]

    def test_unknown_agency_is_not_found_naming_the_known_ones(self) -> None:
        with pytest.raises(UnknownAgency) as caught:
            CATALOG.get("weather_bureau", "rain")
        assert caught.value.slug == "unknown-agency"
        assert "civil_affairs" in caught.value.detail
        assert caught.value.extensions["known_agencies"] == CATALOG.agencies

    def test_unknown_dataset_is_not_found_naming_the_agency_s_datasets(self) -> None:
        with pytest.raises(UnknownDataset) as caught:
            CATALOG.get("civil_affairs", "pension")
        assert caught.value.slug == "unknown-dataset"
        assert caught.value.detail == (
            "agency 'civil_affairs' has no dataset 'pension'; its datasets: dibao, extreme_poverty, veteran"
        )

    def test_a_dataset_is_declared_once(self) -> None:
        with pytest.raises(ValueError, match="declared twice"):
            Catalog([*CIVIL_AFFAIRS, CIVIL_AFFAIRS[0]])

    def test_a_declaration_names_real_fields(self) -> None:
        class Thing(AgencyRecord):
            code: str

        with pytest.raises(ValueError, match="'id_number' is not a field of Thing"):
            Dataset(Agency.hrss, "thing", "things", Thing, lambda _: FactContent(DibaoAttributes(since=date.today())))

    def test_a_mapping_to_another_dataset_s_attributes_is_caught(self) -> None:
        class Thing(AgencyRecord):
            id_number: str

        thing = Dataset(
            Agency.hrss, "thing", "things", Thing, lambda _: FactContent(DibaoAttributes(since=date(2018, 1, 1)))
        )
        with pytest.raises(TypeError, match="hrss/thing: to_fact gave the attributes of civil_affairs/dibao"):
            fact_of(thing, {"id_number": PERSON})


class TestIdentity:
    def test_hukou_is_typed_and_the_name_stays_behind(self) -> None:
        dataset = CATALOG.get("public_security", "identity")
        fact = fact_of(dataset, SAMPLES[dataset.code])
        assert fact.attributes == IdentityAttributes(
            hukou_type=HukouType.rural, hukou_area_code="500153", household_no="H-1", deceased_on=date(2020, 2, 2)
        )
        assert fact.valid_until == date(2020, 2, 2)
        assert [field for field, _ in errors_of(dataset, {**SAMPLES[dataset.code], "hukou_type": "nomad"})] == [
            "hukou_type"
        ]


class TestGraduate:
    DATASET = CATALOG.get("education", "graduate")

    def test_a_graduate_becomes_a_fact_with_school_level_and_day(self) -> None:
        fact = fact_of(self.DATASET, SAMPLES["education/graduate"])
        assert fact.attributes == GraduateAttributes(
            school="重庆文理学院", level=EducationLevel.bachelor, graduated_on=date(2017, 6, 30)
        )
        assert fact.key == fact.subject_ref == subject_ref(KEY, PERSON)
        assert (fact.valid_from, fact.valid_until) == (date(2017, 6, 30), None)

    def test_a_graduating_year_student_s_day_may_lie_ahead(self) -> None:
        fact = fact_of(self.DATASET, {**SAMPLES["education/graduate"], "graduated_on": "2099-07-01"})
        assert fact.attributes.graduated_on == date(2099, 7, 1)

    def test_bad_records_say_why(self) -> None:
        raw = {
            "id_number": with_wrong_check(PERSON),
            "school": " ",
            "level": "kindergarten",
            "graduated_on": "2017-6-30",
        }
        assert errors_of(self.DATASET, raw) == [
            ("id_number", "the check character of the id number is wrong"),
            ("school", "String should have at least 1 character"),
            (
                "level",
                "Input should be 'junior_high', 'senior_high', 'vocational', 'junior_college', 'bachelor', "
                "'master' or 'doctor'",
            ),
            ("graduated_on", "must be an ISO 8601 date written YYYY-MM-DD"),
        ]


class TestRegisteredPoor:
    DATASET = CATALOG.get("agriculture", "registered_poor")

    def test_exit_ends_the_fact(self) -> None:
        fact = fact_of(self.DATASET, {**SAMPLES["agriculture/registered_poor"], "exited_on": "2019-12-31"})
        assert fact.attributes == RegisteredPoorAttributes(
            household_no="P-9", since=date(2016, 1, 1), exited_on=date(2019, 12, 31)
        )
        assert (fact.valid_from, fact.valid_until) == (date(2016, 1, 1), date(2019, 12, 31))
        assert fact.key == fact.subject_ref == subject_ref(KEY, PERSON)

    def test_a_household_that_has_not_exited_has_no_end(self) -> None:
        fact = fact_of(self.DATASET, {"id_number": PERSON, "since": "2016-01-01"})
        assert fact.attributes == RegisteredPoorAttributes(since=date(2016, 1, 1))
        assert fact.valid_until is None

    def test_bad_records_say_why(self) -> None:
        assert errors_of(self.DATASET, {"id_number": PERSON, "since": "2016-01-01", "exited_on": "2015-12-31"}) == [
            ("exited_on", "must not be before since")
        ]
        assert errors_of(self.DATASET, {"id_number": PERSON, "since": "2016-01-01", "until": "2017-01-01"}) == [
            (
                "until",
                "is not a field of agriculture/registered_poor; its fields are id_number, household_no, since, "
                "exited_on",
            )
        ]


class TestBusiness:
    DATASET = CATALOG.get("market_supervision", "business")

    def test_a_business_is_keyed_by_credit_code_and_names_its_legal_representative_by_subject_ref(self) -> None:
        raw = {**SAMPLES["market_supervision/business"], "deregistered_on": "2021-03-01"}
        fact = fact_of(self.DATASET, raw)
        assert fact.key == BUSINESS
        assert fact.subject_ref == subject_ref(KEY, PERSON)
        assert fact.attributes == BusinessAttributes(
            credit_code=BUSINESS,
            name="荣昌区夏布制品有限公司",
            established_on=date(2018, 5, 20),
            deregistered_on=date(2021, 3, 1),
        )
        assert (fact.valid_from, fact.valid_until) == (date(2018, 5, 20), date(2021, 3, 1))
        text = fact.model_dump_json()
        assert PERSON not in text and PERSON[6:14] not in text and "legal_rep" not in text

    def test_the_credit_code_is_normalised(self) -> None:
        fact = fact_of(self.DATASET, {**SAMPLES["market_supervision/business"], "credit_code": f" {BUSINESS.lower()} "})
        assert fact.key == fact.attributes.credit_code == BUSINESS

    def test_bad_records_say_why(self) -> None:
        raw = {
            "credit_code": with_wrong_credit_check(BUSINESS),
            "name": "",
            "legal_rep_id_number": PERSON[:17],
            "established_on": "2018-05-20",
            "deregistered_on": "2018-05-19",
        }
        assert errors_of(self.DATASET, raw) == [
            ("credit_code", "the check character of the unified social credit code is wrong"),
            ("name", "String should have at least 1 character"),
            ("legal_rep_id_number", "a resident id number has 18 characters, not 17"),
            ("deregistered_on", "must not be before established_on"),
        ]
        assert errors_of(self.DATASET, {}) == [
            ("credit_code", "is required"),
            ("name", "is required"),
            ("legal_rep_id_number", "is required"),
            ("established_on", "is required"),
        ]

    def test_the_legal_representative_s_id_number_is_what_an_operator_sees_masked(self) -> None:
        raw = {**SAMPLES["market_supervision/business"], "legal_rep_id_number": with_wrong_check(PERSON)}
        assert self.DATASET.masked_subject(raw) == mask_id_number(with_wrong_check(PERSON))
        assert self.DATASET.masked_subject({"credit_code": BUSINESS, "legal_rep_id_number": PERSON[:17]}) is None
        # The credit code is not the subject: it is never taken for an id number to mask.
        assert self.DATASET.masked_subject({"credit_code": BUSINESS}) is None


class TestCapacityReduction:
    DATASET = CATALOG.get("hrss", "capacity_reduction")

    def test_a_worker_becomes_a_fact_naming_the_employer_by_credit_code(self) -> None:
        fact = fact_of(self.DATASET, {**SAMPLES["hrss/capacity_reduction"], "until": "2018-06-30"})
        assert fact.attributes == CapacityReductionAttributes(
            employer_credit_code=BUSINESS, since=date(2016, 7, 1), until=date(2018, 6, 30)
        )
        assert fact.key == fact.subject_ref == subject_ref(KEY, PERSON)
        assert (fact.valid_from, fact.valid_until) == (date(2016, 7, 1), date(2018, 6, 30))

    def test_bad_records_say_why(self) -> None:
        raw = {
            "id_number": PERSON,
            "employer_credit_code": "91500153MA5U3P7XI1",
            "since": "2016-07-01",
            "until": "2016-06-30",
        }
        assert errors_of(self.DATASET, raw) == [
            (
                "employer_credit_code",
                "a unified social credit code uses digits and upper-case letters except I, O, S, V, Z",
            ),
            ("until", "must not be before since"),
        ]
