"""Hostile pushes and reads against the sharing service on real PostgreSQL. A bad value in one record
is that record's rejection, never the batch's failure; a batch refused whole, and every bad read, is
a 4xx problem that changes nothing. Never a 500, never a redirect."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kit.hostile import (
    HIDDEN,
    assert_refused,
    forged_cursor,
    hostile_text,
    json_body,
    junk,
    nested_junk,
    query,
)
from tests.sharing.factories import id_number
from tests.sharing.harness import SharingService, sharing_service
from tests.support import PostgresDatabases

pytestmark = pytest.mark.integration

DIBAO = "/sharing/v1/agencies/civil_affairs/datasets/dibao/records"
CIVIL_AFFAIRS = {"scopes": ["sharing:submit"], "agency": "civil_affairs", "client_id": "minzheng"}
ADMIN = {"scopes": ["admin"], "agency": "hrss", "client_id": "bureau-admin"}
READER = {"scopes": ["sharing:read"], "agency": "hrss", "client_id": "hrss-audit"}
JSON = {"content-type": "application/json"}
ALICE = id_number("19750312", "222")
BOB = id_number("19680101", "111")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sharing(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[SharingService]:
    async with sharing_service(databases, kafka_bootstrap) as service:
        yield service


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def batch(sharing: SharingService) -> str:
    """A batch of three outcomes, to page through with forged cursors."""
    records = [{"id_number": person, "since": "2018-04-01"} for person in (ALICE, BOB, "x")]
    response = await sharing.client.post(DIBAO, json={"records": records}, **CIVIL_AFFAIRS)
    assert response.status_code == 201, response.text
    batch_id: str = response.json()["batch_id"]
    return batch_id


async def push(
    sharing: SharingService, body: bytes, content_type: str = "application/json", path: str = DIBAO
) -> dict[str, Any]:
    """Push; the receipt and the batch read back must both be answers (never a 500), and the batch
    must read back with the receipt's outcomes."""
    response = await sharing.client.post(path, content=body, headers={"content-type": content_type}, **ADMIN)
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    read = await sharing.client.get(f"/sharing/v1/batches/{receipt['batch_id']}?limit=500", **READER)
    assert read.status_code == 200, read.text
    rejected = [{"index": r["index"], "errors": r["errors"]} for r in read.json()["records"] if r["errors"]]
    assert rejected == receipt["rejected"]
    return receipt


def strict_json(body: bytes) -> bool:
    def refuse(constant: str) -> None:
        raise ValueError(constant)

    try:
        json.loads(body, parse_constant=refuse)
    except ValueError:
        return False
    return True


def fields_of(receipt: dict[str, Any]) -> dict[int, list[str | None]]:
    return {r["index"]: [e["field"] for e in r["errors"]] for r in receipt["rejected"]}


class TestSurrogates:
    async def test_a_lone_surrogate_in_one_record_rejects_that_record_only(self, sharing: SharingService) -> None:
        records = [
            {"id_number": ALICE, "since": "2018-04-01"},
            {"id_number": BOB[:17] + "\ud800", "since": "2018-04-01"},  # 18 characters, one a surrogate
            {"id_number": "\ud800" + BOB[1:], "since": "2018-04-01"},
            {"id_number": BOB, "household_no": "H-\udfff-1", "since": "2018-04-01"},
            {"id_number": BOB, "since": "2018-04-0\ud800"},
            {"id_number": BOB, "since": "2018-04-01", "\ud800": "x"},
            {"id_number": BOB, "since": "2018-04-01", "until": ["\ud800"]},
        ]
        before = await sharing.counts()
        receipt = await push(sharing, json_body({"records": records}))
        assert (receipt["record_count"], receipt["accepted"]) == (7, 1)
        assert fields_of(receipt) == {
            1: ["id_number"],
            2: ["id_number"],
            3: ["household_no"],
            4: ["since"],
            5: [None],
            6: ["until"],
        }
        after = await sharing.counts()
        assert after["sharing_batch"] == before["sharing_batch"] + 1
        assert after["sharing_record"] == before["sharing_record"] + 7
        assert after["outbox_message"] == before["outbox_message"] + 1  # only the good record's fact

    async def test_a_surrogate_in_an_unknown_member_is_a_422_that_echoes_it_escaped(
        self, sharing: SharingService
    ) -> None:
        before = await sharing.counts()
        body = json_body({"records": [{"id_number": ALICE, "since": "2018-04-01"}], "re\ud800cords": []})
        response = await sharing.client.post(DIBAO, content=body, headers=JSON, **ADMIN)
        assert "re\\ud800cords" in assert_refused(response)["detail"]
        assert await sharing.counts() == before

    @pytest.mark.parametrize(
        ("charset", "encoded_surrogate"), [("utf-7", b"+2AA-"), ("unicode_escape", b"\\ud800")], ids=["utf-7", "escape"]
    )
    async def test_a_csv_charset_that_decodes_to_a_surrogate_rejects_the_record_or_the_header(
        self, sharing: SharingService, charset: str, encoded_surrogate: bytes
    ) -> None:
        rows = f"{ALICE},H-1,2018-04-01\n{BOB},H-".encode() + encoded_surrogate + b",2018-04-01\n"
        receipt = await push(sharing, b"id_number,household_no,since\n" + rows, f"text/csv; charset={charset}")
        assert (receipt["accepted"], fields_of(receipt)) == (1, {1: ["household_no"]})
        before = await sharing.counts()
        header = b"id_number," + encoded_surrogate + b",since\n"
        response = await sharing.client.post(
            DIBAO, content=header + rows, headers={"content-type": f"text/csv; charset={charset}"}, **ADMIN
        )
        assert "\\ud800" in assert_refused(response)["detail"]
        assert await sharing.counts() == before


class TestOtherHostileValues:
    async def test_nan_or_infinity_anywhere_is_not_json_and_refuses_the_batch(self, sharing: SharingService) -> None:
        before = await sharing.counts()
        for constant in (float("nan"), float("inf")):
            body = json_body({"records": [{"id_number": ALICE, "since": "2018-04-01", "until": constant}]})
            response = await sharing.client.post(DIBAO, content=body, headers=JSON, **ADMIN)
            assert assert_refused(response)["type"].endswith("malformed-batch")
        assert await sharing.counts() == before

    @pytest.mark.parametrize("hidden", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
    async def test_a_household_number_that_hides_text_rejects_its_record(
        self, sharing: SharingService, hidden: str
    ) -> None:
        record = {"id_number": ALICE, "household_no": f"RC{hidden}2024", "since": "2018-04-01"}
        receipt = await push(sharing, json_body({"records": [record]}))
        assert (receipt["accepted"], fields_of(receipt)) == (0, {0: ["household_no"]})

    @pytest.mark.parametrize("value", [True, False, 2.0, 2**63, "２", "1_0", "NaN"], ids=repr)
    async def test_counts_and_grades_must_be_whole_numbers(self, sharing: SharingService, value: Any) -> None:
        labour = {"period": "2018-06", "urban_employed_total": value}
        receipt = await push(
            sharing,
            json_body({"records": [labour]}),
            path="/sharing/v1/agencies/statistics/datasets/labour_force/records",
        )
        assert fields_of(receipt) == {0: ["urban_employed_total"]}
        certificate = {
            "id_number": ALICE,
            "certificate_no": "A1",
            "kind": "physical",
            "grade": value,
            "valid_until": "2030-01-01",
        }
        receipt = await push(
            sharing,
            json_body({"records": [certificate]}),
            path="/sharing/v1/agencies/disabled_federation/datasets/disability_certificate/records",
        )
        assert fields_of(receipt) == {0: ["grade"]}

    @pytest.mark.parametrize("period", ["2018-06\x00", "２０１８-06", "2018-6", "2018\u201106"], ids=repr)
    async def test_a_period_is_yyyy_mm_in_ascii_digits(self, sharing: SharingService, period: str) -> None:
        labour = {"period": period, "urban_employed_total": 1}
        receipt = await push(
            sharing,
            json_body({"records": [labour]}),
            path="/sharing/v1/agencies/statistics/datasets/labour_force/records",
        )
        assert fields_of(receipt) == {0: ["period"]}

    @pytest.mark.parametrize("since", ["２０１８-04-01", "2018-04-01\x00", "0000-01-01", "99999-01-01"], ids=repr)
    async def test_a_date_is_yyyy_mm_dd_in_ascii_digits(self, sharing: SharingService, since: str) -> None:
        receipt = await push(sharing, json_body({"records": [{"id_number": ALICE, "since": since}]}))
        assert fields_of(receipt) == {0: ["since"]}

    @pytest.mark.parametrize(
        "position",
        [
            {"record_index": 2**31},
            {"record_index": 2**63},
            {"record_index": -1},
            {"record_index": True},
            {"record_index": "1"},
            {"record_index": 1.0},
            {"after": 1},
            {"record_index": 1, "after": 1},
        ],
        ids=repr,
    )
    async def test_a_forged_cursor_is_422(self, sharing: SharingService, batch: str, position: dict[str, Any]) -> None:
        response = await sharing.client.get(f"/sharing/v1/batches/{batch}?cursor={forged_cursor(position)}", **READER)
        assert assert_refused(response)["type"].endswith("invalid-cursor")

    async def test_a_trailing_slash_is_a_404_problem_not_a_redirect(self, sharing: SharingService, batch: str) -> None:
        before = await sharing.counts()
        records = json.dumps({"records": [{"id_number": ALICE, "since": "2018-04-01"}]})
        pushed = await sharing.client.post(DIBAO + "/", content=records, headers=JSON, **ADMIN)
        read = await sharing.client.get(f"/sharing/v1/batches/{batch}/", **READER)
        for response in (pushed, read):
            assert assert_refused(response)["status"] == 404
            assert "location" not in response.headers
        assert await sharing.counts() == before


# Hypothesis: records that are each wrong somewhere, as JSON and as CSV.
VALID = {"id_number": ALICE, "household_no": "RC-1", "since": "2018-04-01", "until": "2019-04-01"}
spoiled_records = st.one_of(
    st.tuples(st.sampled_from(list(VALID)) | hostile_text, junk).map(lambda spoil: {**VALID, spoil[0]: spoil[1]}),
    nested_junk.filter(lambda value: not isinstance(value, dict)),
)


@settings(max_examples=30)
@given(records=st.lists(spoiled_records, min_size=1, max_size=5))
async def test_any_spoiled_json_records_are_each_rejected_and_read_back(
    sharing: SharingService, records: list[Any]
) -> None:
    before = await sharing.counts()
    body = json_body({"records": records})
    if not strict_json(body):  # NaN or Infinity: not JSON at all, the batch is refused whole
        response = await sharing.client.post(DIBAO, content=body, headers=JSON, **ADMIN)
        assert assert_refused(response)["type"].endswith("malformed-batch")
        assert await sharing.counts() == before
        return
    receipt = await push(sharing, body)
    assert receipt["accepted"] == 0 and len(receipt["rejected"]) == len(records)
    after = await sharing.counts()
    assert after["outbox_message"] == before["outbox_message"]  # no fact left for any of them


@settings(max_examples=30)
@given(
    cells=st.lists(st.tuples(st.integers(0, 3), hostile_text), min_size=1, max_size=4),
    charset=st.sampled_from(["utf-8", "utf-7"]),
)
async def test_any_spoiled_csv_rows_are_each_rejected_or_the_csv_refused(
    sharing: SharingService, cells: list[tuple[int, str]], charset: str
) -> None:
    rows = []
    for column, bad in cells:
        row = list(VALID.values())
        row[column] = bad
        rows.append(",".join(row))
    text = ",".join(VALID) + "\n" + "\n".join(rows) + "\n"
    body = text.encode(charset, "surrogatepass") if charset == "utf-8" else text.encode(charset)
    before = await sharing.counts()
    response = await sharing.client.post(
        DIBAO, content=body, headers={"content-type": f"text/csv; charset={charset}"}, **ADMIN
    )
    if response.status_code == 201:
        receipt = response.json()
        assert receipt["accepted"] == 0 and len(receipt["rejected"]) == len(rows)
        read = await sharing.client.get(f"/sharing/v1/batches/{receipt['batch_id']}", **READER)
        assert read.status_code == 200, read.text
    else:  # a NUL, or a surrogate written as UTF-8 bytes: not a CSV in that charset at all
        assert_refused(response)
        assert await sharing.counts() == before


@settings(max_examples=30)
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "cursor": hostile_text
            | st.dictionaries(st.sampled_from(["record_index", "page"]), junk, min_size=1).map(forged_cursor),
            "outcome": hostile_text,
            "limit": hostile_text | st.sampled_from(["0", "501", str(2**64), "1.5", "true"]),
        },
    ).filter(bool)
)
async def test_any_hostile_batch_query_is_refused(sharing: SharingService, batch: str, params: dict[str, Any]) -> None:
    assert_refused(await sharing.client.get(f"/sharing/v1/batches/{batch}?{query(**params)}", **READER))
