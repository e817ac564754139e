"""The registry's problem types: one named class each, so a slug always has one status."""

from __future__ import annotations

from services.kit.errors import Conflict, NotFound, Unprocessable


class PersonNotFound(NotFound):
    slug, title = "person-not-found", "Person not found"


class EmploymentNotFound(NotFound):
    slug, title = "employment-not-found", "Employment not found"


class HouseholdNotFound(NotFound):
    slug, title = "household-not-found", "Household not found"


class PersonExists(Conflict):
    slug, title = "person-exists", "Person already registered"


class PersonDeceased(Conflict):
    slug, title = "person-deceased", "Person recorded as deceased"


class EmploymentOpen(Conflict):
    slug, title = "employment-open", "Employment open"


class AlreadyRegisteredUnemployed(Conflict):
    slug, title = "already-registered-unemployed", "Already registered as unemployed"


class EmploymentEnded(Conflict):
    slug, title = "employment-ended", "Employment ended"


class DateInFuture(Unprocessable):
    slug, title = "date-in-future", "Date in the future"


class DateBeforeBirth(Unprocessable):
    slug, title = "date-before-birth", "Date before birth"


class RegistrationBeforeEmployment(Unprocessable):
    slug, title = "registration-before-employment", "Registration before an employment on record"


class RegistrationBeforeLastRegistration(Unprocessable):
    slug, title = "registration-before-last-registration", "Registration before the last one closed"


class EmploymentBeforeRegistration(Unprocessable):
    slug, title = "employment-before-registration", "Employment before the open registration"


class EndBeforeStart(Unprocessable):
    slug, title = "end-before-start", "End before start"


class MonthOutsideEmployment(Unprocessable):
    slug, title = "month-outside-employment", "Month outside the employment"


class TrainingBeforeBirth(Unprocessable):
    slug, title = "training-before-birth", "Training before birth"


class InvalidPeriod(Unprocessable):
    slug, title = "invalid-period", "Invalid period"


class PeriodInFuture(Unprocessable):
    slug, title = "period-in-future", "Period in the future"


class WarningNotFound(NotFound):
    slug, title = "warning-not-found", "Warning not found"
