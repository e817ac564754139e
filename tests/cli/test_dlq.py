"""`rongchang dlq list|show|replay` against the real broker: a dead-lettered event is listed with its
error, shown in full, and replayed onto its original topic with its key and own headers. On a topic
of its own (every `<topic>.dlq` on the broker is listed), so the platform's topics stay clean."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from typer.testing import CliRunner

from contracts.envelope import CloudEvent
from contracts.topics import dead_letter
from services.cli.main import app
from tests.support import read_topic_sync

pytestmark = pytest.mark.integration

TOPIC = f"cli-test.{uuid.uuid4().hex[:8]}.v1"


def dead_lettered(bootstrap: str, event: CloudEvent, key: bytes) -> None:
    """What a consumer's `_dead_letter` publishes, written by a second client (confluent-kafka)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(t, 3, 1) for t in (TOPIC, dead_letter(TOPIC))]).values():
        with contextlib.suppress(KafkaException):  # made by an earlier test of this module
            future.result(10)
    time.sleep(0.5)  # tansu drops what is produced to a topic in its first moments
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(
        dead_letter(TOPIC),
        event.to_bytes(),
        key=key,
        headers=[
            ("content-type", b"application/cloudevents+json"),
            ("trace", b"kept"),
            ("dlq_error", b"PermanentEventError: the employer is unknown"),
            ("dlq_consumer", b"rebuild-1.registry.warnings"),
            ("dlq_original_topic", TOPIC.encode()),
            ("dlq_original_partition", b"1"),
            ("dlq_original_offset", b"41"),
            ("dlq_attempts", b"5"),
        ],
    )
    assert producer.flush(10) == 0


def test_a_dead_letter_is_listed_shown_and_replayed_onto_its_topic(kafka_bootstrap: str) -> None:
    event = CloudEvent(source="/registry", type="monitoring.warning.raised", data={"warning_id": uuid.uuid4().hex})
    key = f"cli-{uuid.uuid4().hex[:8]}".encode()
    dead_lettered(kafka_bootstrap, event, key)
    runner = CliRunner()
    env = {"RONGCHANG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}

    listed = runner.invoke(app, ["dlq", "list", "--service", "registry", "--topic", TOPIC], env=env)
    assert listed.exit_code == 0, listed.output
    [line] = [line for line in listed.stdout.splitlines() if event.id in line]
    assert "rebuild-1.registry.warnings" in line and "PermanentEventError" in line
    ref = line.split("│")[1].strip()
    assert ref.startswith(f"{dead_letter(TOPIC)}:")
    other = runner.invoke(app, ["dlq", "list", "--service", "subsidy", "--topic", TOPIC], env=env)
    assert event.id not in other.stdout

    shown = runner.invoke(app, ["dlq", "show", ref], env=env)
    assert shown.exit_code == 0, shown.output
    assert "the employer is unknown" in shown.stdout and event.id in shown.stdout

    missing = runner.invoke(app, ["dlq", "show", f"{dead_letter(TOPIC)}:0:999999"], env=env)
    assert missing.exit_code == 2 and "no dead-lettered event" in missing.output

    replayed = runner.invoke(app, ["dlq", "replay", ref], env=env)
    assert replayed.exit_code == 0 and "replayed 1 event" in replayed.stdout, replayed.output
    [back] = [r for r in read_topic_sync(kafka_bootstrap, TOPIC) if r.key == key.decode()]
    assert json.loads(back.value)["id"] == event.id
    assert back.headers["trace"] == "kept" and back.headers["dlq_replayed_from"] == ref
    assert not any(name.startswith("dlq_") and name != "dlq_replayed_from" for name in back.headers)


def test_replay_wants_refs_or_all_not_both(kafka_bootstrap: str) -> None:
    env = {"RONGCHANG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    neither = CliRunner().invoke(app, ["dlq", "replay"], env=env)
    assert neither.exit_code == 2 and "pass --all" in neither.output
