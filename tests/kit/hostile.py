"""What a hostile client sends, as hypothesis strategies, and the check that a service refused it
cleanly: NUL and control characters, direction overrides, line separators, lone surrogates, integers
beyond BIGINT, booleans where numbers go, NaN and Infinity, nested junk; in JSON bodies, query
strings and forged cursors."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import strategies as st

from services.kit.errors import PROBLEM_JSON
from services.kit.pagination import encode_cursor

# Characters that hide or reorder what a record says, or that a database or UTF-8 cannot take.
HIDDEN = [
    "\x00",  # NUL: PostgreSQL refuses it
    "\x1b",
    "\x7f",
    "\x85",  # NEL (Cc)
    "\u200b",  # zero-width space (Cf)
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",  # right-to-left override
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",  # pop directional isolate
    "\u2028",  # line separator (Zl)
    "\u2029",  # paragraph separator (Zp)
    "\ufeff",  # byte-order mark (Cf)
    "\U000e0041",  # tag character (Cf)
    "\ud800",  # lone surrogates: UTF-8 cannot carry them
    "\udfff",
]

# Beyond BIGINT (an INTEGER column's 2**31 is a cursor case of its own); NaN and Infinity are not JSON
# numbers, though Python's json reads them; no amount, count or date of these services is any of them.
HUGE_INTEGERS = [2**63, -(2**63) - 1, 10**30, 10**300]
ODD_NUMBERS = [float("nan"), float("inf"), float("-inf"), 1e308, -1.5]

words = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=4)
# Letters around the character, so trimming whitespace cannot take it away.
hostile_text = st.builds(lambda before, hidden, after: before + hidden + after, words, st.sampled_from(HIDDEN), words)
huge_integers = st.sampled_from(HUGE_INTEGERS) | st.integers(min_value=2**63, max_value=2**200)
odd_numbers = st.sampled_from(ODD_NUMBERS)
_scalars = st.none() | st.booleans() | huge_integers | odd_numbers | hostile_text
nested_junk = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text | words, inner, max_size=3),
    max_leaves=6,
)
# A value no field of these services accepts (None and booleans are left out: some fields take them).
junk = (
    hostile_text
    | huge_integers
    | odd_numbers
    | st.lists(nested_junk, min_size=1, max_size=3)
    | st.dictionaries(hostile_text, nested_junk, min_size=1, max_size=3)
)


def json_body(value: Any) -> bytes:
    """JSON as a hostile client writes it: lone surrogates as `\\ud800` escapes, NaN and Infinity bare."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def with_one_field_spoiled(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    return {**body, field: value}


def query(**params: Any) -> str:
    """A query string with each value percent-encoded as UTF-8 (a lone surrogate as its raw bytes)."""
    return "&".join(
        f"{name}={quote(str(value).encode('utf-8', 'surrogatepass'), safe='')}" for name, value in params.items()
    )


def forged_cursor(position: dict[str, Any]) -> str:
    return encode_cursor(position)


def assert_refused(response: httpx.Response) -> dict[str, Any]:
    """A 4xx problem, never a 5xx and never a redirect."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code and problem["type"] and problem["detail"]
    return problem
