"""The codes of SPEC sections 2 and 3 as enumerations: agencies, scopes, difficulty categories,
programmes, employment kinds and end reasons, insurances, trainings. The gateway, the services and
the dataset declarations import them, so a misspelt code is a type error, not a silent 403.

Each member's value is the public code; the member name is the same code written as a Python name."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Agency(StrEnum):
    """Agency codes (SPEC 3): who pushes a dataset; `hrss` is the bureau itself."""

    public_security = "public_security"
    civil_affairs = "civil_affairs"
    disabled_federation = "disabled_federation"
    statistics = "statistics"
    education = "education"
    agriculture = "agriculture"
    market_supervision = "market_supervision"
    hrss = "hrss"


class Scope(StrEnum):
    """API scopes a client key can hold (SPEC 3)."""

    admin = "admin"
    registry_read = "registry:read"
    registry_write = "registry:write"
    registry_sensitive = "registry:sensitive"
    sharing_submit = "sharing:submit"
    sharing_read = "sharing:read"
    sharing_query = "sharing:query"
    sharing_verify = "sharing:verify"
    subsidy_apply = "subsidy:apply"
    subsidy_review = "subsidy:review"
    subsidy_settle = "subsidy:settle"
    subsidy_read = "subsidy:read"
    statistics_read = "statistics:read"
    monitoring_read = "monitoring:read"
    monitoring_write = "monitoring:write"


class Category(StrEnum):
    """Difficulty categories (就业困难人员), SPEC 2.2."""

    age_4050 = "age_4050"
    low_income_family = "low_income_family"
    zero_employment_family = "zero_employment_family"
    recent_graduate = "recent_graduate"
    rural_poor = "rural_poor"
    disabled = "disabled"
    veteran = "veteran"
    released_prisoner = "released_prisoner"
    drug_rehab = "drug_rehab"
    capacity_reduction_worker = "capacity_reduction_worker"
    extreme_poverty = "extreme_poverty"


SENSITIVE_CATEGORIES: frozenset[Category] = frozenset({Category.released_prisoner, Category.drug_rehab})
RESTRICTED_DIFFICULTY: Literal["restricted_difficulty"] = "restricted_difficulty"
"""How a sensitive category shows on `registry.person.v1`: validity dates, no kind."""
PublishedCategory = Category | Literal["restricted_difficulty"]
"""A category as events show it: a sensitive one only as `restricted_difficulty`, which counts as
"a difficulty" but is none of the named categories."""


class Programme(StrEnum):
    """Subsidy programme codes (补贴, SPEC 2.3)."""

    hiring_key_groups = "hiring_key_groups"
    startup_one_time = "startup_one_time"
    social_insurance = "social_insurance"
    skills_upgrade = "skills_upgrade"
    job_seeking = "job_seeking"


class EmploymentKind(StrEnum):
    """Kinds of employment (SPEC 2.1): self-employed is 自主创业, flexible 灵活就业, public welfare post 公益性岗位."""

    employee = "employee"
    self_employed = "self_employed"
    flexible = "flexible"
    public_welfare_post = "public_welfare_post"


class EndReason(StrEnum):
    """Why an employment ended (SPEC 2.1); all but `retired` and `deceased` count as separations."""

    resigned = "resigned"
    contract_expired = "contract_expired"
    dismissed = "dismissed"
    layoff = "layoff"
    enterprise_closed = "enterprise_closed"
    retired = "retired"
    deceased = "deceased"

    @property
    def is_separation(self) -> bool:
        """Counts as a separation for early warning (SPEC 2.5): all but retirement and death."""
        return self not in (EndReason.retired, EndReason.deceased)


class Insurance(StrEnum):
    """Social-insurance kinds a contribution month covers."""

    pension = "pension"
    medical = "medical"
    unemployment = "unemployment"
    work_injury = "work_injury"
    maternity = "maternity"


class TrainingKind(StrEnum):
    """Kinds of training: vocational skills (职业技能) or entrepreneurship (创业)."""

    vocational = "vocational"
    entrepreneurship = "entrepreneurship"


class CertificateLevel(StrEnum):
    """Vocational qualification certificate levels, lowest first."""

    elementary = "elementary"
    intermediate = "intermediate"
    advanced = "advanced"
    technician = "technician"
    senior_technician = "senior_technician"


class EducationLevel(StrEnum):
    """Levels of the education `graduate` dataset; the last four are college levels (SPEC 2.2)."""

    junior_high = "junior_high"
    senior_high = "senior_high"
    vocational = "vocational"
    junior_college = "junior_college"
    bachelor = "bachelor"
    master = "master"
    doctor = "doctor"


COLLEGE_LEVELS: frozenset[EducationLevel] = frozenset(
    {EducationLevel.junior_college, EducationLevel.bachelor, EducationLevel.master, EducationLevel.doctor}
)


class HukouType(StrEnum):
    """Household registration (户口) type."""

    urban = "urban"
    rural = "rural"


class Gender(StrEnum):
    """Gender; the registry derives it from the id number's sequence digit (odd male, even female)."""

    male = "male"
    female = "female"


class PersonStatus(StrEnum):
    """A person's status: `employed` (an open employment), `unemployed` (an open registration), else `none`."""

    none = "none"
    unemployed = "unemployed"
    employed = "employed"


class HouseholdKind(StrEnum):
    """Why a household is in the zero-employment work queue (SPEC 2.2)."""

    zero_employment = "zero_employment"
    low_income_all_unemployed = "low_income_all_unemployed"
