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
    topic: str
    partition: int = Field(ge=0)
    next_offset: int = Field(ge=0, description="One past the offset of the last event published to this partition")


class OutboxWatermark(BaseModel):
    service: str = Field(description="The publishing service: `registry`, `sharing`, `subsidy`")
    as_of: AwareDatetime = Field(
        description="Every event the service committed before this instant (its own clock) is published"
    )
    positions: list[PartitionOffset] = Field(
        description="Per partition the service has published to, the offset after its last event"
    )
