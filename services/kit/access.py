"""Who may call a route: one typed dependency per scope (SPEC 3), for every service's routes.
Each returns the caller when it holds the scope (or `admin`), else answers 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from contracts.vocabulary import Scope

from .identity import Caller, require_scope

Admin = Annotated[Caller, Depends(require_scope(Scope.admin))]
RegistryReader = Annotated[Caller, Depends(require_scope(Scope.registry_read))]
RegistryWriter = Annotated[Caller, Depends(require_scope(Scope.registry_write))]
SharingSubmitter = Annotated[Caller, Depends(require_scope(Scope.sharing_submit))]
SharingReader = Annotated[Caller, Depends(require_scope(Scope.sharing_read))]
SharingQuerier = Annotated[Caller, Depends(require_scope(Scope.sharing_query))]
SharingVerifier = Annotated[Caller, Depends(require_scope(Scope.sharing_verify))]
StatisticsReader = Annotated[Caller, Depends(require_scope(Scope.statistics_read))]
# SPEC 3: indicators and warnings are read with `monitoring:read`, or with `registry:read`.
MonitoringReader = Annotated[Caller, Depends(require_scope(Scope.monitoring_read, Scope.registry_read))]
MonitoringWriter = Annotated[Caller, Depends(require_scope(Scope.monitoring_write))]
SubsidyReader = Annotated[Caller, Depends(require_scope(Scope.subsidy_read))]
SubsidyApplicant = Annotated[Caller, Depends(require_scope(Scope.subsidy_apply))]
SubsidyReviewer = Annotated[Caller, Depends(require_scope(Scope.subsidy_review))]
SubsidySettler = Annotated[Caller, Depends(require_scope(Scope.subsidy_settle))]
