"""The statuses of applications and payments and their allowed moves, written once (SPEC 3).

submitted -> eligible | ineligible            first evaluation, once the projections caught up
eligible <-> ineligible                        re-evaluation when the beneficiary's facts change
eligible -> approved | rejected                four-eyes decision
ineligible -> rejected                         a reviewer closes an application that cannot pass
approved -> paid | payment_failed              the treasury's settlement
payment_failed -> approved                     an operator instructs a new payment

payment: instructed -> settled | failed
"""

from __future__ import annotations

APPLICATION_MOVES: dict[str, frozenset[str]] = {
    "submitted": frozenset({"eligible", "ineligible"}),
    "eligible": frozenset({"ineligible", "approved", "rejected"}),
    "ineligible": frozenset({"eligible", "rejected"}),
    "approved": frozenset({"paid", "payment_failed"}),
    "payment_failed": frozenset({"approved"}),
    "rejected": frozenset(),
    "paid": frozenset(),
}
PAYMENT_MOVES: dict[str, frozenset[str]] = {
    "instructed": frozenset({"settled", "failed"}),
    "settled": frozenset(),
    "failed": frozenset(),
}
# Evaluated again when the beneficiary's facts change, until a reviewer decides.
UNDECIDED = ("eligible", "ineligible")


class IllegalMove(RuntimeError):
    """A move the lifecycle does not allow: a bug, never a caller's mistake."""


def check_application_move(from_status: str, to_status: str) -> None:
    if to_status not in APPLICATION_MOVES[from_status]:
        raise IllegalMove(f"an application cannot move from {from_status} to {to_status}")


def check_payment_move(from_status: str, to_status: str) -> None:
    if to_status not in PAYMENT_MOVES[from_status]:
        raise IllegalMove(f"a payment cannot move from {from_status} to {to_status}")
