"""The subsidy service's problem types: one named class each, so a slug always has one status."""

from __future__ import annotations

from services.kit.errors import Conflict, Forbidden, NotFound, Unprocessable


class ProgrammeNotFound(NotFound):
    """A programme named in the path (`PUT /budgets/{programme}/{year}`) that does not exist."""

    slug, title = "programme-not-found", "Programme not found"


class ApplicationNotFound(NotFound):
    slug, title = "application-not-found", "Application not found"


class PaymentNotFound(NotFound):
    slug, title = "payment-not-found", "Payment not found"


class BeneficiaryNotFound(NotFound):
    """No registry event about this person has reached the subsidy service's projection."""

    slug, title = "beneficiary-not-found", "Beneficiary not found"


class UnknownProgramme(Unprocessable):
    """A programme named in the body that does not exist."""

    slug, title = "unknown-programme", "Unknown programme"


class ApplicantNotPayee(Unprocessable):
    slug, title = "applicant-not-payee", "Applicant is not the payee"


class InvalidClaim(Unprocessable):
    """The application lacks what its programme needs (an employment, a business, months, a
    training), or names what the programme does not take; `errors[]` says which."""

    slug, title = "invalid-claim", "Invalid claim for this programme"


class FourEyes(Forbidden):
    slug, title = "four-eyes", "Four-eyes rule"


class ApplicationInProgress(Conflict):
    slug, title = "application-in-progress", "Application in progress"


class NotEligible(Conflict):
    slug, title = "not-eligible", "Application not eligible"


class NotJudgedYet(Conflict):
    """The application is `submitted`: it waits for the facts it names (or for the sources'
    watermarks) and is judged first; a reviewer decides it once it is `eligible` or `ineligible`."""

    slug, title = "not-judged-yet", "Application not judged yet"


class AlreadyDecided(Conflict):
    slug, title = "already-decided", "Application already decided"


class NoLongerEligible(Conflict):
    slug, title = "no-longer-eligible", "No longer eligible"


class NoBudget(Conflict):
    slug, title = "no-budget", "No budget set"


class BudgetExhausted(Conflict):
    slug, title = "budget-exhausted", "Budget exhausted"


class BudgetBelowCommitted(Conflict):
    slug, title = "budget-below-committed", "Budget below what is committed"


class GrantAlreadyPaid(Conflict):
    slug, title = "grant-already-paid", "Grant already paid"


class AlreadyGranted(Conflict):
    """Approval would grant what another approved application holds (the one-time grant, a month)."""

    slug, title = "already-granted", "Already granted"


class PaymentNotFailed(Conflict):
    """A new payment is instructed only for an application whose payment failed."""

    slug, title = "payment-not-failed", "Payment has not failed"


class SettlementConflict(Conflict):
    slug, title = "settlement-conflict", "Settlement conflict"
