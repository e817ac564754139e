"""Disabled persons' federation (残联) datasets: disability certificates."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from contracts.facts import DisabilityCertificateAttributes
from contracts.vocabulary import Agency

from .declaration import AgencyRecord, AnyDataset, Dataset, FactContent
from .fields import IdNumber, IsoDate, WholeNumber

CertificateNo = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z]{1,32}$")]


class DisabilityCertificateRecord(AgencyRecord):
    id_number: IdNumber
    certificate_no: CertificateNo
    kind: Literal["visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"]
    grade: WholeNumber = Field(ge=1, le=4)
    valid_until: IsoDate


def disability_certificate_fact(record: DisabilityCertificateRecord) -> FactContent:
    # The certificate number is left behind: a second-generation certificate number is the holder's
    # id number followed by kind and grade digits, so sending it would send the id number.
    return FactContent(
        DisabilityCertificateAttributes(kind=record.kind, grade=record.grade, valid_until=record.valid_until),
        valid_until=record.valid_until,
    )


DATASETS: tuple[AnyDataset, ...] = (
    Dataset(
        Agency.disabled_federation,
        "disability_certificate",
        "残疾人证 disability certificates",
        DisabilityCertificateRecord,
        disability_certificate_fact,
    ),
)
