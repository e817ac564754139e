"""The checked-in JSON Schemas and AsyncAPI document are exactly what the models generate, and
they say what the contract promises: every topic, its key, its event types and dead letters."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts import generate, topics
from contracts.envelope import new_event
from contracts.registry import PERSON_REGISTERED, HouseholdSnapshot, PersonSnapshot
from tests.support import ROOT

RENDERED = generate.render()


def _unified_diff(relative: str, expected: str) -> str:
    actual = (generate.CONTRACTS_DIR / relative).read_text(encoding="utf-8")
    lines = difflib.unified_diff(
        actual.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"checked-in contracts/{relative}",
        tofile="generated from the models",
        n=2,
    )
    return "".join(list(lines)[:60])


@pytest.mark.parametrize("relative", sorted(RENDERED))
def test_checked_in_file_matches_the_models(relative: str) -> None:
    path = generate.CONTRACTS_DIR / relative
    assert path.exists(), f"contracts/{relative} is missing: run `make contracts` and commit it"
    expected = RENDERED[relative]
    assert path.read_text(encoding="utf-8") == expected, (
        f"contracts/{relative} differs from the models: run `make contracts`\n{_unified_diff(relative, expected)}"
    )


def test_no_stale_schema_is_checked_in() -> None:
    assert generate.differences() == []


def test_generating_twice_gives_identical_bytes() -> None:
    assert generate.render() == RENDERED


def test_check_flag_reports_drift_and_exits_non_zero(tmp_path: Path) -> None:
    generate.write(tmp_path)
    assert generate.differences(tmp_path) == []
    (tmp_path / "schemas" / "registry.person.v1.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "schemas" / "registry.person.v0.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "asyncapi.yaml").unlink()
    assert generate.differences(tmp_path) == [
        "asyncapi.yaml: missing",
        "schemas/registry.person.v1.json: differs from the models",
        "schemas/registry.person.v0.json: stale, no model generates it",
    ]
    generate.write(tmp_path)
    assert generate.differences(tmp_path) == []
    assert not (tmp_path / "schemas" / "registry.person.v0.json").exists()


def test_check_flag_from_the_command_line_passes_on_the_checked_in_files() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contracts.generate", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _resolve(document: Any, pointer: str) -> Any:
    assert pointer.startswith("#/"), pointer
    node = document
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


@pytest.mark.parametrize("relative", sorted(RENDERED))
def test_every_reference_resolves(relative: str) -> None:
    text = RENDERED[relative]
    document = yaml.safe_load(text) if relative.endswith(".yaml") else json.loads(text)
    for ref in _refs(document):
        _resolve(document, ref)


ASYNCAPI = yaml.safe_load(RENDERED[generate.ASYNCAPI_FILE])


def test_asyncapi_declares_every_topic_and_its_dead_letter_topic() -> None:
    assert ASYNCAPI["asyncapi"] == "3.0.0"
    for topic in topics.ALL_TOPICS:
        assert ASYNCAPI["channels"][topic]["address"] == topic
        assert ASYNCAPI["channels"][topics.dead_letter(topic)]["address"] == f"{topic}.dlq"
    assert set(ASYNCAPI["channels"]) == {name for t in topics.ALL_TOPICS for name in (t, topics.dead_letter(t))}


def test_dead_letters_carry_the_headers_the_consumer_runner_sets() -> None:
    headers = ASYNCAPI["components"]["messages"]["deadLetter"]["headers"]
    assert headers["required"] == [
        "dlq_error",
        "dlq_consumer",
        "dlq_original_topic",
        "dlq_original_partition",
        "dlq_original_offset",
        "dlq_attempts",
    ]
    source = (ROOT / "services" / "kit" / "inbox.py").read_text(encoding="utf-8")
    for header in headers["required"]:
        assert f'("{header}"' in source, f"services/kit/inbox.py no longer sets {header}"


def test_who_sends_and_who_receives_what() -> None:
    operations = {
        (op["tags"][0]["name"], op["action"], _resolve(ASYNCAPI, op["channel"]["$ref"])["address"])
        for op in ASYNCAPI["operations"].values()
    }
    assert operations == {
        ("outbox-relay", "send", "outbox.watermark.v1"),
        ("subsidy", "receive", "outbox.watermark.v1"),
        ("subsidy", "send", "outbox.watermark.v1.dlq"),
        ("subsidy", "receive", "sharing.fact.v1"),
        ("subsidy", "send", "sharing.fact.v1.dlq"),
        ("registry", "send", "registry.person.v1"),
        ("registry", "send", "registry.employment.v1"),
        ("registry", "send", "registry.household.v1"),
        ("registry", "receive", "sharing.fact.v1"),
        ("registry", "send", "sharing.fact.v1.dlq"),
        ("registry", "receive", "sharing.sensitive-fact.v1"),
        ("registry", "send", "sharing.sensitive-fact.v1.dlq"),
        ("sharing", "send", "sharing.fact.v1"),
        ("sharing", "send", "sharing.sensitive-fact.v1"),
        ("sharing", "send", "sharing.statistics-report.v1"),
        ("subsidy", "send", "subsidy.application.v1"),
        ("subsidy", "send", "subsidy.payment.v1"),
        ("subsidy", "receive", "registry.person.v1"),
        ("subsidy", "receive", "registry.employment.v1"),
        ("subsidy", "send", "registry.person.v1.dlq"),
        ("subsidy", "send", "registry.employment.v1.dlq"),
        ("registry", "send", "monitoring.warning.v1"),
        ("sharing", "receive", "registry.person.v1"),
        ("sharing", "receive", "registry.employment.v1"),
        ("sharing", "send", "registry.person.v1.dlq"),
        ("sharing", "send", "registry.employment.v1.dlq"),
    }


def test_every_topic_is_published() -> None:
    for topic in topics.ALL_TOPICS:
        assert "x-not-yet-published" not in ASYNCAPI["channels"][topic], topic
        assert f"schemas/{topic}.json" in RENDERED, topic


def test_each_published_message_names_its_kafka_key_and_cloudevents_attributes() -> None:
    expected_keys = {
        topics.REGISTRY_PERSON: "person_id",
        topics.REGISTRY_EMPLOYMENT: "person_id",
        topics.REGISTRY_HOUSEHOLD: "household_no",
        topics.SHARING_FACT: "subject_ref",
        topics.SHARING_SENSITIVE_FACT: "subject_ref",
        topics.SUBSIDY_APPLICATION: "person_id",
        topics.SUBSIDY_PAYMENT: "person_id",
        topics.SHARING_STATISTICS_REPORT: "period",
        topics.MONITORING_WARNING: "employer_credit_code",
    }
    for topic, key in expected_keys.items():
        refs = ASYNCAPI["channels"][topic]["messages"].values()
        assert refs
        for ref in refs:
            message = _resolve(ASYNCAPI, ref["$ref"])
            assert key in message["bindings"]["kafka"]["key"]["description"]
            payload = message["payload"]
            assert set(payload["required"]) >= {"id", "source", "type", "specversion", "time", "data"}
            assert "subject" in payload["properties"]
            assert payload["properties"]["type"]["const"] == message["name"]


def test_the_person_topic_schema_lists_its_event_types_with_their_payloads() -> None:
    schema = json.loads(RENDERED["schemas/registry.person.v1.json"])
    assert schema["properties"]["type"]["enum"] == [
        "registry.person.registered",
        "registry.person.updated",
        "registry.person.difficulty-changed",
        "registry.person.deceased",
    ]
    assert {
        branch["properties"]["type"]["const"]: branch["properties"]["data"]["$ref"] for branch in schema["oneOf"]
    } == {name: "#/$defs/PersonSnapshot" for name in schema["properties"]["type"]["enum"]}
    person = schema["$defs"]["PersonSnapshot"]
    assert set(person["properties"]) == set(PersonSnapshot.model_fields)
    assert schema["properties"]["specversion"] == {"const": "1.0", "description": "CloudEvents specification version."}


def test_a_real_event_has_exactly_the_attributes_the_schema_describes() -> None:
    schema = json.loads(RENDERED["schemas/registry.person.v1.json"])
    snapshot = PersonSnapshot.model_validate(
        {
            "person_id": "6f1c1d7e-5d0e-4f61-9a57-1b8e3b0f9d11",
            "subject_ref": "a" * 64,
            "version": 1,
            "name_masked": "张*",
            "gender": "female",
            "birth_year": 1949,
            "hukou_type": "urban",
            "status": "unemployed",
            "difficulty_categories": [],
            "unemployment_registrations": [],
        }
    )
    wire = json.loads(
        new_event(source="/registry", type=PERSON_REGISTERED, subject=str(snapshot.person_id), data=snapshot).to_bytes()
    )
    assert set(schema["required"]) <= set(wire) <= set(schema["properties"])
    assert wire["type"] in schema["properties"]["type"]["enum"]
    data_schema = schema["$defs"]["PersonSnapshot"]
    assert set(data_schema["required"]) <= set(wire["data"]) <= set(data_schema["properties"])


def test_the_catalogue_covers_every_topic_and_every_event_type_the_contract_modules_declare() -> None:
    from contracts import monitoring, outbox, registry, sharing, statistics, subsidy

    assert [contract.topic for contract in generate.CATALOGUE] == list(topics.ALL_TOPICS)
    producers = ("outbox.", "registry.", "sharing.", "subsidy.", "monitoring.")
    declared = {
        value
        for module in (monitoring, outbox, registry, sharing, statistics, subsidy)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and value.startswith(producers)
    }
    catalogued = {event.name for contract in generate.CATALOGUE for event in contract.events}
    assert declared == catalogued
    for contract in generate.CATALOGUE:
        # The sensitive-fact topic carries the very facts of sharing.fact.v1, only on a topic of its own.
        family = topics.SHARING_FACT if contract.topic == topics.SHARING_SENSITIVE_FACT else contract.topic
        assert all(event.name.startswith(family.rsplit(".", 1)[0] + ".") for event in contract.events)


def test_both_fact_topics_carry_one_fact_message_whose_attributes_are_each_dataset_s_model() -> None:
    fact_refs = ASYNCAPI["channels"][topics.SHARING_FACT]["messages"]
    assert ASYNCAPI["channels"][topics.SHARING_SENSITIVE_FACT]["messages"] == fact_refs
    [ref] = fact_refs.values()
    message = _resolve(ASYNCAPI, ref["$ref"])
    fact = _resolve(ASYNCAPI, message["payload"]["properties"]["data"]["$ref"])
    attributes = fact["properties"]["attributes"]
    mapping = attributes["discriminator"]["mapping"]
    assert attributes["discriminator"]["propertyName"] == "dataset"
    assert set(mapping) == {
        "public_security/identity",
        "public_security/special_population",
        "civil_affairs/dibao",
        "civil_affairs/extreme_poverty",
        "civil_affairs/veteran",
        "disabled_federation/disability_certificate",
        "statistics/labour_force",
        "education/graduate",
        "agriculture/registered_poor",
        "market_supervision/business",
        "hrss/capacity_reduction",
    }
    for code, model_ref in mapping.items():
        model = _resolve(ASYNCAPI, model_ref)
        assert model["properties"]["dataset"]["const"] == code
        assert "dataset" in model["required"]
    graduate = _resolve(ASYNCAPI, mapping["education/graduate"])
    assert set(graduate["properties"]) == {"dataset", "school", "level", "graduated_on"}
    assert _resolve(ASYNCAPI, graduate["properties"]["level"]["$ref"])["enum"] == [
        "junior_high",
        "senior_high",
        "vocational",
        "junior_college",
        "bachelor",
        "master",
        "doctor",
    ]
    assert "legal_rep_id_number" not in _resolve(ASYNCAPI, mapping["market_supervision/business"])["properties"]


def test_the_household_topic_carries_household_snapshots_keyed_by_household_number() -> None:
    schema = json.loads(RENDERED["schemas/registry.household.v1.json"])
    assert schema["properties"]["type"]["enum"] == ["registry.household.changed"]
    assert schema["properties"]["data"] == {"$ref": "#/$defs/HouseholdSnapshot"}
    assert set(schema["$defs"]["HouseholdSnapshot"]["properties"]) == set(HouseholdSnapshot.model_fields)
