"""What every service's outbox relay publishes on `outbox.watermark.v1`: how far it has published.

A watermark says: every event this service committed before `as_of` is on the broker, at an offset
below `next_offset` of its partition. A consumer that has applied its partitions up to those offsets
has seen everything the service had accepted before `as_of`; the subsidy service waits for that
before it judges an application (SPEC 2.3).
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

OUTBOX_WATERMARK = "outbox.watermark.published"


class PartitionOffset(BaseModel):
    """How far the service has published to one partition of one of its topics."""

    topic: str = Field(description="A topic the service publishes to through its outbox, e.g. `registry.person.v1`")
    partition: int = Field(ge=0, description="The Kafka partition of `topic`, from 0")
    next_offset: int = Field(ge=0, description="One past the offset of the last event published to this partition")


class OutboxWatermark(BaseModel):
    """A relay's progress report: everything the service committed before `as_of` is on the broker."""

    service: str = Field(
        description="The publishing service: `registry`, `sharing`, `subsidy`; also the Kafka key and `subject`"
    )
    as_of: AwareDatetime = Field(
        description="Every event the service committed before this instant (the database's clock on PostgreSQL, "
        "the relay host's on SQLite) is on the broker; an instant with its UTC offset"
    )
    positions: list[PartitionOffset] = Field(
        description="Per partition the service has ever published to, the offset after its last event; a "
        "consumer that has applied every partition up to its `next_offset` has seen all those events"
    )
