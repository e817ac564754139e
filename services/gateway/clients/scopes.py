"""The agency codes and scopes of SPEC section 3; a client holds one agency and some scopes."""

from __future__ import annotations

from enum import StrEnum


class Agency(StrEnum):
    public_security = "public_security"
    civil_affairs = "civil_affairs"
    disabled_federation = "disabled_federation"
    statistics = "statistics"
    education = "education"
    agriculture = "agriculture"
    market_supervision = "market_supervision"
    hrss = "hrss"


class Scope(StrEnum):
    admin = "admin"
    registry_read = "registry:read"
    registry_write = "registry:write"
    registry_sensitive = "registry:sensitive"
    sharing_submit = "sharing:submit"
    sharing_read = "sharing:read"
    subsidy_apply = "subsidy:apply"
    subsidy_review = "subsidy:review"
    subsidy_settle = "subsidy:settle"
    subsidy_read = "subsidy:read"
    statistics_read = "statistics:read"
