"""Topics the services create when missing (`ensure_topics`) get the configured partitions and
replication factor, read back from a real broker; a topic the broker refuses stops the caller with
the broker's reason instead of leaving the topic missing in silence."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import dead_letter
from services.kit.kafka import ensure_topics, refused_topics
from services.kit.settings import ServiceSettings


async def described(bootstrap: str, topics: list[str]) -> dict[str, list[int]]:
    """Replicas per partition of each topic, as the broker describes it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {
            topic["topic"]: [len(p["replicas"]) for p in sorted(topic["partitions"], key=lambda p: p["partition"])]
            for topic in await admin.describe_topics(topics)
        }
    finally:
        await admin.close()


@pytest.mark.integration
@pytest.mark.parametrize("replication_factor", [1, 3])
async def test_topics_get_the_configured_partitions_and_replication_factor(
    kafka_bootstrap: str, replication_factor: int
) -> None:
    topic = f"test.topics.{uuid.uuid4().hex[:8]}.v1"
    settings = ServiceSettings(
        kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=2, kafka_replication_factor=replication_factor
    )
    await ensure_topics(settings, [topic])
    found = await described(kafka_bootstrap, [topic, dead_letter(topic)])
    assert found == {topic: [replication_factor] * 2, dead_letter(topic): [replication_factor] * 2}
    await ensure_topics(settings, [topic])  # already there: nothing to do, no error


def test_a_topic_the_broker_refuses_is_named_with_the_reason() -> None:
    # tansu creates any topic it is asked for, so the broker's refusal is read from a CreateTopics
    # answer as real Kafka gives it (INVALID_REPLICATION_FACTOR, 38, on a cluster of fewer brokers).
    answer = [("registry.person.v1", 38, "Replication factor: 3 larger than available brokers: 1."), ("a", 0, None)]
    assert refused_topics(answer) == ["registry.person.v1: InvalidReplicationFactorError"]
    assert refused_topics([("b", 36, "exists"), ("c", 0, None)]) == [], "already there is fine"


def test_partitions_and_replication_factor_below_one_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="kafka_replication_factor"):
        ServiceSettings(kafka_replication_factor=0)
    with pytest.raises(ValueError, match="kafka_topic_partitions"):
        ServiceSettings(kafka_topic_partitions=0)
