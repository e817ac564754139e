"""What an integrator reads off the topics, after the other end-to-end tests have filled them:
every record of every topic, read with confluent-kafka (not the services' aiokafka), parses with the
official CloudEvents SDK (`cloudevents.core.bindings.kafka.from_kafka_event`, which picks the
content mode from the headers) and validates against its topic's JSON Schema in contracts/schemas."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event

from contracts.topics import ALL_TOPICS
from tests.e2e.conftest import RunningSystem
from tests.support import ROOT, read_topics

pytestmark = pytest.mark.e2e

SCHEMAS = ROOT / "contracts" / "schemas"


def schema_of(topic: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{topic}.json").read_text(encoding="utf-8"))
    return schema


async def test_every_event_on_every_topic_reads_with_the_cloudevents_sdk_and_fits_its_schema(
    system: RunningSystem,
) -> None:
    counts: dict[str, int] = {}
    everywhere = await read_topics(system.config.bootstrap, ALL_TOPICS)
    for topic, records in everywhere.items():
        validator = jsonschema.Draft202012Validator(schema_of(topic))
        for record in records:
            assert not [name for name in record.headers if name.lower().startswith("ce_")], (
                f"{topic}@{record.partition}:{record.offset} has ce_ headers: structured mode has none"
            )
            assert record.headers.get("content-type") == "application/cloudevents+json", (
                f"{topic}@{record.partition}:{record.offset} headers={record.headers}"
            )
            message = KafkaMessage(
                headers={k: v.encode() for k, v in record.headers.items()}, key=record.key, value=record.value
            )
            event = from_kafka_event(message)
            body = json.loads(record.value)
            assert event.get_id() == body["id"] and event.get_type() == body["type"]
            assert event.get_source() == body["source"] and event.get_specversion() == "1.0"
            errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
            assert not errors, f"{topic}@{record.partition}:{record.offset}: {errors[0].message}"
        counts[topic] = len(records)
    print(f"\nwire: {sum(counts.values())} events read with the CloudEvents SDK and validated: {counts}")
    for topic in ("registry.person.v1", "registry.employment.v1", "sharing.fact.v1", "subsidy.application.v1"):
        assert counts[topic] > 0, f"the end-to-end tests left nothing on {topic} to check"
