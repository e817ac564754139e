"""Education (教育) datasets: college and school graduates."""

from __future__ import annotations

from contracts.facts import GraduateAttributes
from contracts.vocabulary import Agency, EducationLevel

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import IdNumber, IsoDate, Text


class GraduateRecord(AgencyRecord):
    id_number: IdNumber
    school: Text
    level: EducationLevel
    # A graduating-year student's day may lie ahead (SPEC 2.2), so a future date is accepted.
    graduated_on: IsoDate


def graduate_fact(record: GraduateRecord) -> FactContent:
    return FactContent(
        GraduateAttributes(school=record.school, level=record.level, graduated_on=record.graduated_on),
        valid_from=record.graduated_on,
    )


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(Agency.education, "graduate", "毕业生 graduates", GraduateRecord, graduate_fact),
)
