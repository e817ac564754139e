"""The gateway's problem types: one named class each, so a slug always has one status. The edge and
the hop answer with `Problem("detail").response(headers)`, the same body the handler renders."""

from __future__ import annotations

from services.kit.errors import DomainError, NotFound


class ClientNotFound(NotFound):
    slug, title = "client-not-found", "API client not found"


class UpstreamUnavailable(DomainError):
    status, slug, title = 502, "upstream-unavailable", "Bad gateway"


class UpstreamTimeout(DomainError):
    status, slug, title = 504, "upstream-timeout", "Gateway timeout"
