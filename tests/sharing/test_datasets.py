"""Dataset declarations: per-record validation and the facts accepted records become (no DB, no broker)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from services.kit.errors import NotFound
from services.kit.identifiers import subject_ref
from services.sharing.datasets.catalog import CATALOG, Catalog
from services.sharing.datasets.civil_affairs import DATASETS as CIVIL_AFFAIRS
from services.sharing.datasets.civil_affairs import DibaoRecord
from services.sharing.datasets.declaration import AgencyRecord, Dataset, FactContent
from tests.sharing.factories import id_number, with_impossible_birth_date, with_wrong_check

KEY = b"unit-test-subject-key"
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
        assert fact.attributes == {"household_no": "H-1", "since": "2018-04-01", "until": "2019-03-31"}

    def test_open_ended_record_has_no_end(self) -> None:
        fact = fact_of(DIBAO, {"id_number": PERSON, "since": "2018-04-01"})
        assert fact.valid_until is None
        assert fact.attributes == {"household_no": None, "since": "2018-04-01", "until": None}

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
}


class TestCatalog:
    def test_every_declared_dataset_has_a_sample_here(self) -> None:
        assert {dataset.code for dataset in CATALOG} == set(SAMPLES)

    def test_the_spec_datasets_are_declared(self) -> None:
        assert CATALOG.agencies == ["civil_affairs", "disabled_federation", "public_security", "statistics"]
        assert CATALOG.datasets_of("civil_affairs") == ["dibao", "extreme_poverty", "veteran"]

    @pytest.mark.parametrize("code", sorted(SAMPLES))
    def test_facts_never_carry_an_id_number_or_a_name(self, code: str) -> None:
        agency, name = code.split("/")
        dataset = CATALOG.get(agency, name)
        fact = fact_of(dataset, SAMPLES[code])
        text = fact.model_dump_json()
        assert PERSON not in text
        assert "张三" not in text
        assert not {"id_number", "name", "certificate_no"} & set(fact.attributes)

    @pytest.mark.parametrize("code", sorted(SAMPLES))
    def test_every_dataset_reports_all_missing_required_fields(self, code: str) -> None:
        agency, name = code.split("/")
        dataset = CATALOG.get(agency, name)
        assert errors_of(dataset, {}) == [(field, "is required") for field in dataset.required_fields]

    def test_person_datasets_are_keyed_by_subject_ref(self) -> None:
        for dataset in CATALOG:
            if dataset.subject_field is not None:
                fact = fact_of(dataset, SAMPLES[dataset.code])
                assert fact.key == fact.subject_ref == subject_ref(KEY, PERSON)

    def test_labour_force_is_an_aggregate_keyed_by_period(self) -> None:
        dataset = CATALOG.get("statistics", "labour_force")
        fact = fact_of(dataset, {"period": "2020-02", "urban_employed_total": "5"})
        assert fact.subject_ref is None
        assert fact.key == "2020-02"
        assert (fact.valid_from, fact.valid_until) == (date(2020, 2, 1), date(2020, 2, 29))
        assert fact.attributes == {"period": "2020-02", "urban_employed_total": 5}
        assert errors_of(dataset, {"period": "2020-13", "urban_employed_total": -1}) == [
            ("period", "must be a month written YYYY-MM"),
            ("urban_employed_total", "Input should be greater than or equal to 0"),
        ]

    def test_disability_certificate_checks_kind_and_grade(self) -> None:
        dataset = CATALOG.get("disabled_federation", "disability_certificate")
        raw = {**SAMPLES[dataset.code], "kind": "other", "grade": 5}
        assert [field for field, _ in errors_of(dataset, raw)] == ["kind", "grade"]

    def test_unknown_agency_is_not_found_naming_the_known_ones(self) -> None:
        with pytest.raises(NotFound) as caught:
            CATALOG.get("weather_bureau", "rain")
        assert caught.value.slug == "unknown-agency"
        assert "civil_affairs" in caught.value.detail
        assert caught.value.extensions["known_agencies"] == CATALOG.agencies

    def test_unknown_dataset_is_not_found_naming_the_agency_s_datasets(self) -> None:
        with pytest.raises(NotFound) as caught:
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
            Dataset("x", "thing", "things", Thing, lambda _: FactContent())

    def test_declaring_a_dataset_needs_no_plumbing(self) -> None:
        class Business(AgencyRecord):
            credit_code: str
            name: str

        business = Dataset(
            "market_supervision",
            "business",
            "businesses",
            Business,
            lambda record: FactContent(attributes={"name": record.name}),
            key_field="credit_code",
            subject_field=None,
        )
        fact = fact_of(business, {"credit_code": "91500153MA5U0000X1", "name": "A Ltd"})
        assert fact.key == "91500153MA5U0000X1" and fact.subject_ref is None
