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

    dataset: Literal["public_security/identity"] = Field(
        default="public_security/identity", description="Always `public_security/identity`: names this model"
    )
    hukou_type: HukouType = Field(description="The person's hukou (户口) type, `urban` or `rural`")
    hukou_area_code: str = Field(
        pattern=r"^[0-9]{6}$", description="The 6-digit administrative area code of the hukou, e.g. `500226`"
    )
    household_no: str = Field(
        description="Public security's household number (户号); the registry files the person's household under it"
    )
    deceased_on: date | None = Field(
        default=None, description="Date of death public security recorded; null while alive (also the `valid_until`)"
    )


class SpecialPopulationAttributes(_Attributes):
    """刑满释放 / 戒毒康复: sensitive, published on `sharing.sensitive-fact.v1` only."""

    dataset: Literal["public_security/special_population"] = Field(
        default="public_security/special_population",
        description="Always `public_security/special_population`: names this model",
    )
    kind: Literal["released_prisoner", "drug_rehab"] = Field(
        description="The sensitive difficulty category the person holds: released prisoner (刑满释放) or drug "
        "rehabilitation (戒毒康复)"
    )
    since: date = Field(description="First day the category holds; it has no end")


class DibaoAttributes(_Attributes):
    """民政 低保: the person's family receives the minimum living guarantee (`low_income_family`)."""

    dataset: Literal["civil_affairs/dibao"] = Field(
        default="civil_affairs/dibao", description="Always `civil_affairs/dibao`: names this model"
    )
    household_no: str | None = Field(
        default=None,
        description="Civil affairs' household number; the registry uses it only while public security has given "
        "none; null when not reported",
    )
    since: date = Field(description="First day of the guarantee: `low_income_family` holds from it")
    until: date | None = Field(default=None, description="Last day of the guarantee (inclusive); null while it goes on")


class ExtremePovertyAttributes(_Attributes):
    """民政 特困: the person receives extreme poverty support (`extreme_poverty`)."""

    dataset: Literal["civil_affairs/extreme_poverty"] = Field(
        default="civil_affairs/extreme_poverty", description="Always `civil_affairs/extreme_poverty`: names this model"
    )
    since: date = Field(description="First day of the support: `extreme_poverty` holds from it")
    until: date | None = Field(default=None, description="Last day of the support (inclusive); null while it goes on")


class VeteranAttributes(_Attributes):
    """民政 退役军人: a discharged soldier (`veteran`)."""

    dataset: Literal["civil_affairs/veteran"] = Field(
        default="civil_affairs/veteran", description="Always `civil_affairs/veteran`: names this model"
    )
    discharged_on: date = Field(description="Day of discharge: `veteran` holds from it, with no end")


class DisabilityCertificateAttributes(_Attributes):
    """The certificate number stays behind: a second-generation one embeds the holder's id number."""

    dataset: Literal["disabled_federation/disability_certificate"] = Field(
        default="disabled_federation/disability_certificate",
        description="Always `disabled_federation/disability_certificate`: names this model",
    )
    kind: Literal["visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"] = Field(
        description="The kind of disability on the certificate"
    )
    grade: int = Field(ge=1, le=4, description="The disability grade, 1 (most severe) to 4")
    valid_until: date = Field(description="Last day the certificate is valid: `disabled` holds until it (inclusive)")


class LabourForceAttributes(_Attributes):
    """An aggregate: no person."""

    dataset: Literal["statistics/labour_force"] = Field(
        default="statistics/labour_force", description="Always `statistics/labour_force`: names this model"
    )
    period: Month = Field(description="The month the figure is for, `YYYY-MM`; also the fact's `key`")
    urban_employed_total: int = Field(
        ge=0,
        description="Urban employed persons in the district that month, as the statistics bureau counts them: the "
        "denominator of the registered urban unemployment rate",
    )


class GraduateAttributes(_Attributes):
    """教育 毕业生: a school or college graduate; a college level gives `recent_graduate` for 2 years."""

    dataset: Literal["education/graduate"] = Field(
        default="education/graduate", description="Always `education/graduate`: names this model"
    )
    school: str = Field(description="The school's name (a school's name is public)")
    level: EducationLevel = Field(
        description="The level completed; `junior_college`, `bachelor`, `master` and `doctor` are college levels"
    )
    graduated_on: date = Field(
        description="Day the person left (or will leave) school; may lie ahead for a graduating-year student"
    )


class RegisteredPoorAttributes(_Attributes):
    """农业农村 建档立卡贫困户: a member of a registered rural poor household (`rural_poor`)."""

    dataset: Literal["agriculture/registered_poor"] = Field(
        default="agriculture/registered_poor", description="Always `agriculture/registered_poor`: names this model"
    )
    household_no: str | None = Field(
        default=None, description="Agriculture's number for the poor household; null when not reported"
    )
    since: date = Field(description="First day on the register: `rural_poor` holds from it")
    exited_on: date | None = Field(
        default=None, description="Day the household left the register (last day of `rural_poor`); null while on it"
    )


class BusinessAttributes(_Attributes):
    """市场监管 a registered business; its legal representative is the fact's `subject_ref`."""

    dataset: Literal["market_supervision/business"] = Field(
        default="market_supervision/business", description="Always `market_supervision/business`: names this model"
    )
    credit_code: str = Field(
        min_length=18,
        max_length=18,
        description="The business's unified social credit code (GB 32100); also the fact's `key`",
    )
    name: str = Field(description="The business's registered name (a business name is public)")
    established_on: date = Field(description="Day the business was registered")
    deregistered_on: date | None = Field(
        default=None, description="Day the business was deregistered; null while it operates"
    )


class CapacityReductionAttributes(_Attributes):
    """去产能 the bureau's own list of workers of enterprises cutting excess capacity."""

    dataset: Literal["hrss/capacity_reduction"] = Field(
        default="hrss/capacity_reduction", description="Always `hrss/capacity_reduction`: names this model"
    )
    employer_credit_code: str = Field(
        min_length=18,
        max_length=18,
        description="Unified social credit code (GB 32100) of the enterprise cutting capacity",
    )
    since: date = Field(description="First day on the list: `capacity_reduction_worker` holds from it")
    until: date | None = Field(default=None, description="Last day on the list (inclusive); null while on it")


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
