"""Request and response models of indicators."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field


class IndicatorCode(StrEnum):
    new_urban_jobs = "new_urban_jobs"
    registered_unemployed = "registered_unemployed"
    registered_urban_unemployment_rate = "registered_urban_unemployment_rate"
    new_entrepreneurs = "new_entrepreneurs"
    trained = "trained"


DESCRIPTIONS = {
    IndicatorCode.new_urban_jobs: "Employments started in the period",
    IndicatorCode.registered_unemployed: "Open unemployment registrations at the end of the period (or today)",
    IndicatorCode.registered_urban_unemployment_rate: "Registered unemployed urban residents / (those + the "
    "statistics bureau's urban employed total), a fraction; null until the bureau reports, and for a town",
    IndicatorCode.new_entrepreneurs: "Self-employed employments started in the period",
    IndicatorCode.trained: "Trainings completed in the period",
}


class Indicator(BaseModel):
    code: IndicatorCode
    value: float | None = Field(description="A count, or the rate as a fraction (0.031 is 3.1%)")
    target: float | None = Field(description="The year's target (the rate's is a ceiling); null when none")
    share_of_target: float | None = Field(description="value / target, 4 decimals; for the rate, below 1 is on track")
    description: str


class IndicatorsRead(BaseModel):
    period: str = Field(description="`YYYY` or `YYYY-MM`")
    town: str | None
    first_day: date
    as_of: date = Field(description="The day stocks are counted on: the period's last day, or today if sooner")
    labour_force_period: str | None = Field(
        description="The month of the statistics bureau's figure the rate uses: the period's month, or the "
        "year's latest reported by `as_of`"
    )
    indicators: list[Indicator]
