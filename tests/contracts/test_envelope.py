"""The CloudEvents envelope: what goes on the wire comes back the same, what is not a valid
CloudEvent 1.0 is refused, and the payloads name people without their id number or name."""

from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contracts import generate
from contracts.envelope import SPECVERSION, CloudEvent, new_event
from contracts.facts import BusinessAttributes, FactAttributes
from contracts.registry import (
    PERSON_REGISTERED,
    PersonSnapshot,
    PublishedDifficulty,
    UnemploymentRegistrationState,
)
from contracts.sharing import Fact

PERSON_ID = uuid.UUID("6f1c1d7e-5d0e-4f61-9a57-1b8e3b0f9d11")
RAW_ID_NUMBER = "11010519491231002X"


def person_snapshot(**changes: Any) -> PersonSnapshot:
    fields: dict[str, Any] = {
        "person_id": PERSON_ID,
        "subject_ref": "c0ffee" * 10 + "abcd",
        "version": 1,
        "name_masked": "张*",
        "gender": "female",
        "birth_year": 1949,
        "hukou_type": "urban",
        "status": "unemployed",
        "difficulty_categories": [
            PublishedDifficulty(category="low_income_family", source="civil_affairs", valid_from=date(2018, 1, 1))
        ],
        "unemployment_registrations": [
            UnemploymentRegistrationState(registration_id=uuid.uuid4(), registered_on=date(2018, 3, 1))
        ],
    }
    return PersonSnapshot.model_validate({**fields, **changes})


def person_event(**changes: Any) -> CloudEvent:
    return new_event(
        source="/registry", type=PERSON_REGISTERED, subject=str(PERSON_ID), data=person_snapshot(**changes)
    )


def wire(event: CloudEvent) -> dict[str, Any]:
    return dict(json.loads(event.to_bytes()))


def test_an_event_survives_the_round_trip_to_bytes_and_back() -> None:
    event = person_event()
    again = CloudEvent.from_bytes(event.to_bytes())
    assert again == event
    assert again.payload(PersonSnapshot) == event.payload(PersonSnapshot)
    assert again.to_bytes() == event.to_bytes()


def test_the_wire_form_is_a_structured_cloudevent_with_every_attribute() -> None:
    body = wire(person_event())
    assert body["specversion"] == "1.0"
    assert body["source"] == "/registry"
    assert uuid.UUID(body["id"])
    assert body["type"] == PERSON_REGISTERED
    assert body["subject"] == str(PERSON_ID)
    assert body["datacontenttype"] == "application/json"
    assert datetime.fromisoformat(body["time"]).utcoffset() == timedelta(0)
    assert body["data"]["person_id"] == str(PERSON_ID)


def test_an_event_without_a_subject_leaves_the_attribute_out_and_keeps_nulls_in_data() -> None:
    event = CloudEvent(source="/registry", type="t.e", data={"ended_on": None})
    body = json.loads(event.to_bytes())
    assert "subject" not in body and body["data"] == {"ended_on": None}
    assert CloudEvent.from_bytes(event.to_bytes()) == event


def test_every_event_gets_its_own_id_and_keeps_its_source() -> None:
    first, second = person_event(), person_event()
    assert first.id and second.id and first.id != second.id
    assert first.source == second.source == "/registry"


@pytest.mark.parametrize("missing", ["source", "type", "data"])
def test_an_event_without_a_required_attribute_is_refused(missing: str) -> None:
    body = wire(person_event())
    del body[missing]
    with pytest.raises(ValidationError):
        CloudEvent.from_bytes(json.dumps(body).encode())


@pytest.mark.parametrize("attribute", ["source", "id", "type"])
def test_an_empty_source_id_or_type_is_refused(attribute: str) -> None:
    body = wire(person_event())
    body[attribute] = ""
    with pytest.raises(ValidationError):
        CloudEvent.from_bytes(json.dumps(body).encode())


@pytest.mark.parametrize("missing", ["id", "specversion"])
def test_a_record_without_an_id_or_specversion_is_refused(missing: str) -> None:
    body = wire(person_event())
    del body[missing]
    with pytest.raises(ValidationError):
        CloudEvent.from_bytes(json.dumps(body).encode())


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="UTC offset"):
        CloudEvent(source="/registry", type=PERSON_REGISTERED, time=datetime(2018, 4, 1, 12, 0), data={})
    body = wire(person_event())
    body["time"] = "2018-04-01T12:00:00"
    with pytest.raises(ValidationError):
        CloudEvent.from_bytes(json.dumps(body).encode())


def test_an_aware_time_is_kept_as_the_same_instant_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    event = CloudEvent(
        source="/registry", type=PERSON_REGISTERED, time=datetime(2018, 4, 1, 8, 0, tzinfo=beijing), data={}
    )
    assert event.time == datetime(2018, 4, 1, 0, 0, tzinfo=UTC)
    assert event.time.tzinfo == UTC
    assert wire(event)["time"] == "2018-04-01T00:00:00Z"


@pytest.mark.parametrize("version", ["0.3", "1", "1.0.0", "2.0", ""])
def test_a_specversion_other_than_1_0_is_refused(version: str) -> None:
    assert SPECVERSION == "1.0"
    with pytest.raises(ValidationError, match="specversion"):
        CloudEvent(specversion=version, source="/registry", type=PERSON_REGISTERED, data={})
    body = wire(person_event())
    body["specversion"] = version
    with pytest.raises(ValidationError):
        CloudEvent.from_bytes(json.dumps(body).encode())


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"specversion": "1.0"}', b"\xff\xfe"])
def test_bytes_that_are_not_a_cloudevent_are_refused(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        CloudEvent.from_bytes(raw)


def test_the_envelope_is_immutable() -> None:
    event = person_event()
    with pytest.raises(ValidationError):
        event.id = "another"  # type: ignore[misc]


def test_extension_attributes_travel_along() -> None:
    body = wire(person_event())
    body["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    event = CloudEvent.from_bytes(json.dumps(body).encode())
    assert wire(event)["traceparent"] == body["traceparent"]


def test_payload_validates_data_against_the_model() -> None:
    event = person_event()
    snapshot = event.payload(PersonSnapshot)
    assert isinstance(snapshot, PersonSnapshot)
    assert snapshot.person_id == PERSON_ID
    assert snapshot.birth_year == 1949


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", 0),
        ("gender", "unknown"),
        ("status", "retired"),
        ("person_id", "not-a-uuid"),
        ("birth_year", "nineteen forty-nine"),
        ("graduated_on", "2018-13-01"),
    ],
)
def test_payload_refuses_data_that_breaks_the_model(field: str, value: Any) -> None:
    body = wire(person_event())
    body["data"][field] = value
    event = CloudEvent.from_bytes(json.dumps(body).encode())
    with pytest.raises(ValidationError):
        event.payload(PersonSnapshot)


def test_payload_refuses_data_with_a_missing_field() -> None:
    body = wire(person_event())
    del body["data"]["subject_ref"]
    with pytest.raises(ValidationError):
        CloudEvent.from_bytes(json.dumps(body).encode()).payload(PersonSnapshot)


# --- No raw id number or name in a payload ----------------------------------------------------

FORBIDDEN_FIELD_NAMES = {"id_number", "id_no", "id_card", "name", "full_name", "person_name", "phone"}


def _models_within(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and every model its fields contain, however nested."""
    found: list[type[BaseModel]] = [model]
    for info in model.model_fields.values():
        stack: list[Any] = [info.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                if annotation not in found:
                    found.extend(m for m in _models_within(annotation) if m not in found)
            else:
                stack.extend(typing.get_args(annotation))
    return found


def test_person_snapshot_has_a_masked_name_and_nothing_of_the_id_number_or_birth_date() -> None:
    for model in _models_within(PersonSnapshot):
        for field in model.model_fields:
            assert field not in FORBIDDEN_FIELD_NAMES, f"{model.__name__}.{field} could carry a raw identifier"
            assert "id_number" not in field, f"{model.__name__}.{field}: no part of an id number travels"
            assert "birth_date" not in field, f"{model.__name__}.{field}: the birth date is what a mask hides"
            if "name" in field:
                assert field.endswith("_masked"), f"{model.__name__}.{field} must be a masked form"
    assert {"name_masked", "birth_year"} <= set(PersonSnapshot.model_fields)


def test_person_snapshot_keeps_no_unknown_field() -> None:
    # A producer that slipped the id number in as an extra field, raw or masked, or the birth date,
    # would not get it published.
    snapshot = person_snapshot(
        id_number=RAW_ID_NUMBER, id_number_masked="110105********002X", name="张三", birth_date="1949-12-31"
    )
    dumped = snapshot.model_dump_json()
    for secret in (RAW_ID_NUMBER, "110105********002X", "002X", "张三", "1949-12-31"):
        assert secret not in dumped


# A business's registered name is public (企业信用信息公示); its legal representative is a subject_ref.
PUBLIC_NAMES = {(BusinessAttributes, "name")}


@pytest.mark.parametrize("model", generate.payload_models(), ids=lambda m: m.__name__)
def test_no_published_payload_has_a_field_for_a_raw_id_number_or_name(model: type[BaseModel]) -> None:
    for inner in _models_within(model):
        for field in inner.model_fields:
            if (inner, field) in PUBLIC_NAMES:
                continue
            assert field not in FORBIDDEN_FIELD_NAMES, f"{inner.__name__}.{field} could carry a raw identifier"
            assert "id_number" not in field or field.endswith("_masked"), f"{inner.__name__}.{field}"


def test_every_dataset_s_attributes_are_in_the_published_fact() -> None:
    # The fact payload names each attributes model, so the contract shows what each dataset carries.
    inner = set(_models_within(Fact))
    assert set(typing.get_args(typing.get_args(FactAttributes)[0])) <= inner


def test_a_raw_id_number_as_subject_is_refused() -> None:
    with pytest.raises(ValidationError):
        CloudEvent(source="/registry", type=PERSON_REGISTERED, subject=RAW_ID_NUMBER, data={})


def test_a_person_snapshot_published_before_birth_years_still_reads() -> None:
    """Snapshots of the earlier payload (birth date, masked id number) stay readable: a projection
    stored from them, or a replay of the topic, gets the birth year."""
    import uuid

    from contracts.registry import PersonSnapshot

    earlier = {
        "person_id": str(uuid.uuid4()),
        "subject_ref": "a" * 64,
        "version": 3,
        "name_masked": "刘**",
        "id_number_masked": "500153********123X",
        "gender": "female",
        "birth_date": "1988-03-15",
        "hukou_type": "urban",
        "status": "unemployed",
        "difficulty_categories": [],
        "unemployment_registrations": [],
    }
    snapshot = PersonSnapshot.model_validate(earlier)
    assert snapshot.birth_year == 1988
    assert "birth_date" not in snapshot.model_dump() and "id_number_masked" not in snapshot.model_dump()
