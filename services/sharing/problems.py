"""The sharing service's problem types: one named class each, so a slug always has one status."""

from __future__ import annotations

from services.kit.errors import BadRequest, Conflict, DomainError, Forbidden, NotFound, PayloadTooLarge, Unprocessable


class UnknownAgency(NotFound):
    slug, title = "unknown-agency", "Unknown agency"


class UnknownDataset(NotFound):
    slug, title = "unknown-dataset", "Unknown dataset"


class BatchNotFound(NotFound):
    slug, title = "batch-not-found", "Batch not found"


class MalformedBatch(BadRequest):
    """The body cannot be read at all: not JSON, not text in its charset, a broken CSV quote."""

    slug, title = "malformed-batch", "Malformed batch"


class InvalidBatch(Unprocessable):
    """The body reads, but is not a batch: not `{"records": [...]}`, or no record in it."""

    slug, title = "invalid-batch", "Invalid batch"


class InvalidCsv(Unprocessable):
    """The CSV header does not name the dataset's fields."""

    slug, title = "invalid-csv", "Invalid CSV header"


class BatchTooLarge(PayloadTooLarge):
    slug, title = "batch-too-large", "Batch too large"


class UnsupportedBatchType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class InvalidAgreement(Unprocessable):
    """An agreement that cannot be made: a dataset not shared outward, a field it does not have, the
    statistics bureau (aggregates only), or a validity that has ended or runs backwards."""

    slug, title = "invalid-agreement", "Invalid agreement"


class AgreementNotFound(NotFound):
    slug, title = "agreement-not-found", "Agreement not found"


class AgreementDeclared(Conflict):
    """An inbound agreement follows the dataset catalogue; it is changed there, not revoked here."""

    slug, title = "agreement-declared", "Agreement declared by the dataset catalogue"


class NotAgreed(Forbidden):
    """No valid agreement of the caller's agency covers the query. The refusal is audited: the
    request's transaction commits its audit entry and the answer is still this 403."""

    slug, title = "not-agreed", "No valid agreement"
    commits = True


class PeriodInFuture(Unprocessable):
    slug, title = "period-in-future", "Period in the future"


class PeriodBeforeRecords(Unprocessable):
    """Before the first month the platform reports on (`SHARING_STATISTICS_FIRST_PERIOD`)."""

    slug, title = "period-before-records", "Period before the records"
