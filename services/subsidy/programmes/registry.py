"""The programmes the subsidy service runs: one line each. A programme's amounts come from its own
settings class (env prefix `SUBSIDY_<PROGRAMME>_`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from services.subsidy.programmes.base import Programme
from services.subsidy.programmes.hiring_key_groups import HiringKeyGroups
from services.subsidy.programmes.job_seeking import JobSeeking
from services.subsidy.programmes.skills_upgrade import SkillsUpgrade
from services.subsidy.programmes.social_insurance import SocialInsurance
from services.subsidy.programmes.startup_one_time import StartupOneTime

PROGRAMMES: tuple[type[Programme[Any, Any]], ...] = (
    HiringKeyGroups,
    StartupOneTime,
    SocialInsurance,
    SkillsUpgrade,
    JobSeeking,
)


class Catalogue:
    """The programmes by code, each built once from its settings (read from the environment)."""

    def __init__(self, programmes: dict[str, Programme[Any, Any]] | None = None) -> None:
        self.by_code: dict[str, Programme[Any, Any]] = programmes or {cls.code: cls() for cls in PROGRAMMES}

    def __iter__(self) -> Iterator[Programme[Any, Any]]:
        return iter(self.by_code.values())

    def get(self, code: str) -> Programme[Any, Any] | None:
        return self.by_code.get(code)

    @property
    def codes(self) -> list[str]:
        return list(self.by_code)
