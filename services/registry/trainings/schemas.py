"""Request and response models of trainings."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.registry import TrainingState
from contracts.vocabulary import CertificateLevel, TrainingKind
from services.kit.text import SingleLine


class TrainingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TrainingKind
    completed_on: date
    certificate_level: CertificateLevel | None = Field(default=None, description="Vocational certificate obtained")
    provider: SingleLine | None = Field(default=None, min_length=1, max_length=200)


class TrainingRead(TrainingState):
    person_id: uuid.UUID
    created_at: datetime
