"""Money in integer fen (1/100 CNY), and its display as a CNY decimal string."""

from __future__ import annotations

from decimal import Decimal


def cny(fen: int) -> str:
    """`600000` -> `"6000.00"`."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def fen_of(amount: Decimal) -> int:
    """A CNY amount with at most two decimal places, in fen; the caller validated the places."""
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} has more than two decimal places")
    return int(fen)
