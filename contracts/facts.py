"""What each dataset's fact carries: one attributes model per agency dataset (SPEC 2.4).

A fact's `attributes` is one of these, told apart by its `dataset` member (`agency/dataset`), so an
integrator reads from the AsyncAPI document exactly what a `dibao` or a `disability_certificate`
fact holds, and a consumer gets typed values, not a dict read by string keys. No attributes model
holds a name or an id number: a person is the fact's `subject_ref`.

Adding a dataset is a model here and a member of `FactAttributes`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .fields import Month
from .vocabulary import EducationLevel, HukouType


class _Attributes(BaseModel):
    # Every member is on the wire, `dataset` and the nulls included, so the published schema says
    # so: a consumer may rely on `dataset` to tell the models apart.
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class IdentityAttributes(_Attributes):
    """公安 户籍: hukou and household; the name stays with public security (identity checks use it there)."""

    dataset: Literal["public_security/identity"] = "public_security/identity"
    hukou_type: HukouType
    hukou_area_code: str = Field(pattern=r"^[0-9]{6}$")
    household_no: str
    deceased_on: date | None = None


class SpecialPopulationAttributes(_Attributes):
    """刑满释放 / 戒毒康复: sensitive, published on `sharing.sensitive-fact.v1` only."""

    dataset: Literal["public_security/special_population"] = "public_security/special_population"
    kind: Literal["released_prisoner", "drug_rehab"]
    since: date


class DibaoAttributes(_Attributes):
    dataset: Literal["civil_affairs/dibao"] = "civil_affairs/dibao"
    household_no: str | None = None
    since: date
    until: date | None = None


class ExtremePovertyAttributes(_Attributes):
    dataset: Literal["civil_affairs/extreme_poverty"] = "civil_affairs/extreme_poverty"
    since: date
    until: date | None = None


class VeteranAttributes(_Attributes):
    dataset: Literal["civil_affairs/veteran"] = "civil_affairs/veteran"
    discharged_on: date


class DisabilityCertificateAttributes(_Attributes):
    """The certificate number stays behind: a second-generation one embeds the holder's id number."""

    dataset: Literal["disabled_federation/disability_certificate"] = "disabled_federation/disability_certificate"
    kind: Literal["visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"]
    grade: int = Field(ge=1, le=4)
    valid_until: date


class LabourForceAttributes(_Attributes):
    """An aggregate: no person."""

    dataset: Literal["statistics/labour_force"] = "statistics/labour_force"
    period: Month
    urban_employed_total: int = Field(ge=0)


class GraduateAttributes(_Attributes):
    dataset: Literal["education/graduate"] = "education/graduate"
    school: str
    level: EducationLevel
    graduated_on: date


class RegisteredPoorAttributes(_Attributes):
    dataset: Literal["agriculture/registered_poor"] = "agriculture/registered_poor"
    household_no: str | None = None
    since: date
    exited_on: date | None = None


class BusinessAttributes(_Attributes):
    """市场监管 a registered business; its legal representative is the fact's `subject_ref`."""

    dataset: Literal["market_supervision/business"] = "market_supervision/business"
    credit_code: str = Field(min_length=18, max_length=18)
    name: str = Field(description="The business's registered name (a business name is public)")
    established_on: date
    deregistered_on: date | None = None


class CapacityReductionAttributes(_Attributes):
    """去产能 the bureau's own list of workers of enterprises cutting excess capacity."""

    dataset: Literal["hrss/capacity_reduction"] = "hrss/capacity_reduction"
    employer_credit_code: str = Field(min_length=18, max_length=18)
    since: date
    until: date | None = None


FactAttributes = Annotated[
    IdentityAttributes
    | SpecialPopulationAttributes
    | DibaoAttributes
    | ExtremePovertyAttributes
    | VeteranAttributes
    | DisabilityCertificateAttributes
    | LabourForceAttributes
    | GraduateAttributes
    | RegisteredPoorAttributes
    | BusinessAttributes
    | CapacityReductionAttributes,
    Field(discriminator="dataset"),
]
