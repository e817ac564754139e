"""Valid test identities made with the standards' own check algorithms."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from services.kit.identifiers import credit_check_character, id_check_character

_sequence = itertools.count(1)


def id_number(born: date = date(1990, 5, 17), *, female: bool = False, area: str = "500153") -> str:
    """A fresh valid id number; the sequence's last digit is odd for men and even for women."""
    n = next(_sequence)
    seq = f"{(n % 500) * 2 + (0 if female else 1):03d}"
    area = f"{int(area) + n // 500:06d}"
    first17 = f"{area}{born:%Y%m%d}{seq}"
    return first17 + id_check_character(first17)


def credit_code(org: str = "MA5U7K3X2") -> str:
    """A valid unified social credit code of a company registered in Rongchang (area 500226)."""
    first17 = "91500226" + org
    return first17 + credit_check_character(first17)


def employment_body(**changes: Any) -> dict[str, Any]:
    """A valid `POST /registry/v1/persons/{person_id}/employments` body with a fresh employer."""
    return {
        "employer_credit_code": credit_code(),
        "employer_name": "荣昌夏布织造有限公司",
        "started_on": "2025-01-02",
        "contract_months": 36,
        "kind": "employee",
        **changes,
    }
