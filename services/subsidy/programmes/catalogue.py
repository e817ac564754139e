"""The subsidy programmes of the plan (SPEC 2.3): which are open, who is paid, and how much."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.vocabulary import Programme
from services.subsidy.settings import SubsidySettings

PayeeRole = Literal["employer", "founder", "employer_or_flexible_worker", "employee", "graduate"]


@dataclass(frozen=True)
class ProgrammeTerms:
    code: Programme
    name: str
    payee: PayeeRole
    one_time: bool
    # Only open programmes take applications; the others are listed so callers see what is coming.
    open: bool
    amount_fen: int | None


def catalogue(settings: SubsidySettings) -> list[ProgrammeTerms]:
    return [
        ProgrammeTerms(
            Programme.hiring_key_groups,
            "一次性吸纳重点群体就业岗位补贴",
            "employer",
            one_time=True,
            open=True,
            amount_fen=settings.hiring_key_groups_amount_fen,
        ),
        ProgrammeTerms(
            Programme.startup_one_time, "一次性创业补助", "founder", one_time=True, open=False, amount_fen=None
        ),
        ProgrammeTerms(
            Programme.social_insurance,
            "社会保险补贴",
            "employer_or_flexible_worker",
            one_time=False,
            open=False,
            amount_fen=None,
        ),
        ProgrammeTerms(
            Programme.skills_upgrade, "参保职工技能提升补贴", "employee", one_time=False, open=False, amount_fen=None
        ),
        ProgrammeTerms(Programme.job_seeking, "求职创业补贴", "graduate", one_time=True, open=False, amount_fen=None),
    ]


def find_programme(settings: SubsidySettings, code: str) -> ProgrammeTerms | None:
    """The terms of the programme with this code; None when there is no such programme."""
    return next((p for p in catalogue(settings) if p.code == code), None)
