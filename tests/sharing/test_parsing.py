"""Reading a pushed body into raw records: JSON and CSV, and every way a batch is refused whole."""

from __future__ import annotations

import pytest

from services.kit.errors import DomainError
from services.sharing.batches.parsing import CSV, JSON, Limits, RawRecord, parse_batch
from services.sharing.datasets.catalog import CATALOG
from tests.sharing.factories import id_number

DIBAO = CATALOG.get("civil_affairs", "dibao")
LIMITS = Limits(max_records=3, max_bytes=4096)
PERSON = id_number()


def refused(body: bytes, content_type: str | None) -> DomainError:
    with pytest.raises(DomainError) as caught:
        parse_batch(body, content_type, DIBAO, LIMITS)
    return caught.value


class TestJson:
    def test_records_are_taken_as_sent(self) -> None:
        body = b'{"records": [{"id_number": "x"}, 7]}'
        batch = parse_batch(body, "application/json; charset=utf-8", DIBAO, LIMITS)
        assert batch.media_type == JSON
        assert batch.records == [RawRecord({"id_number": "x"}), RawRecord(7)]

    def test_a_json_suffix_type_is_json(self) -> None:
        assert parse_batch(b'{"records": [{}]}', "application/vnd.dibao+json", DIBAO, LIMITS).media_type == JSON

    @pytest.mark.parametrize(
        ("body", "status", "slug", "detail"),
        [
            (b"{records: []}", 400, "malformed-batch", "the body is not valid JSON: Expecting property name"),
            (b"", 400, "malformed-batch", "the body is not valid JSON"),
            (b'{"records": [NaN]}', 400, "malformed-batch", "the body is not valid JSON: NaN is not a JSON number"),
            (b"\xff\xfe{", 400, "malformed-batch", "the body is not"),
            (b"[{}]", 422, "invalid-batch", 'the body must be a JSON object {"records": [...]}'),
            (b'{"rows": [{}]}', 422, "invalid-batch", "unknown member(s) rows; the body holds only `records`"),
            (b"{}", 422, "invalid-batch", "the body must hold a list `records`"),
            (b'{"records": {"a": 1}}', 422, "invalid-batch", "the body must hold a list `records`"),
            (b'{"records": []}', 422, "invalid-batch", "`records` is empty; a batch holds at least one record"),
            (b'{"records": [{}, {}, {}, {}]}', 413, "batch-too-large", "a batch may hold at most 3 records"),
        ],
        ids=[
            "syntax",
            "empty body",
            "NaN",
            "not UTF-8",
            "array",
            "unknown member",
            "no records",
            "records not list",
            "no record",
            "too many",
        ],
    )
    def test_a_bad_body_is_refused_whole(self, body: bytes, status: int, slug: str, detail: str) -> None:
        error = refused(body, JSON)
        assert (error.status, error.slug) == (status, slug)
        assert error.detail.startswith(detail)


class TestCsv:
    def test_rows_become_records_keyed_by_the_header(self) -> None:
        body = (
            f"id_number,since,until\r\n{PERSON},2018-04-01,\r\n\r\n ,, \r\n{PERSON}, 2018-05-01 ,2019-01-01\r\n"
        ).encode()
        batch = parse_batch(body, "text/csv", DIBAO, LIMITS)
        assert batch.media_type == CSV
        assert batch.records == [
            RawRecord({"id_number": PERSON, "since": "2018-04-01"}),
            RawRecord({"id_number": PERSON, "since": "2018-05-01", "until": "2019-01-01"}),
        ]

    def test_a_byte_order_mark_is_not_part_of_the_first_column(self) -> None:
        body = f"\ufeffid_number,since\n{PERSON},2018-04-01\n".encode()
        [record] = parse_batch(body, "text/csv; charset=utf-8", DIBAO, LIMITS).records
        assert record == RawRecord({"id_number": PERSON, "since": "2018-04-01"})

    def test_the_declared_charset_is_honoured(self) -> None:
        body = f"\ufeffid_number,household_no,since\n{PERSON},荣昌-001,2018-04-01\n".encode("gb18030")
        [record] = parse_batch(body, 'text/csv; charset="GB18030"', DIBAO, LIMITS).records
        assert record == RawRecord({"id_number": PERSON, "household_no": "荣昌-001", "since": "2018-04-01"})

    def test_a_row_with_the_wrong_cell_count_is_a_record_problem_not_a_batch_one(self) -> None:
        body = f"id_number,since\n{PERSON},2018-04-01,extra\n{PERSON}\n{PERSON},2018-04-01\n".encode()
        records = parse_batch(body, CSV, DIBAO, LIMITS).records
        assert [record.problem for record in records] == [
            "the row has 3 cells; the header has 2",
            "the row has 1 cells; the header has 2",
            None,
        ]
        assert records[1].value == {"id_number": PERSON}

    @pytest.mark.parametrize(
        ("body", "content_type", "status", "slug", "detail"),
        [
            (b"", CSV, 422, "invalid-batch", "the CSV is empty; it needs a header row (id_number, household_no, since"),
            (b"id_number,since\n\n", CSV, 422, "invalid-batch", "the CSV has a header but no records"),
            (
                b"id_number,since,name\nx,y,z\n",
                CSV,
                422,
                "invalid-csv",
                "the CSV header names name, not field(s) of civil_affairs/dibao",
            ),
            (
                b"id_number,household_no\nx,y\n",
                CSV,
                422,
                "invalid-csv",
                "the CSV header lacks required column(s) since",
            ),
            (b"id_number,since,since\nx,y,z\n", CSV, 422, "invalid-csv", "the CSV header repeats since"),
            (b"id_number,,since\nx,y,z\n", CSV, 422, "invalid-csv", "the CSV header has an empty column name"),
            (b'id_number,since\n"x,2018-01-01\n', CSV, 400, "malformed-batch", "the CSV cannot be read at line"),
            (b"id_number,since\n\xff\xfe,x\n", CSV, 400, "malformed-batch", "the CSV is not valid utf-8"),
            (
                b"id_number,since\na,b\n",
                "text/csv; charset=klingon",
                415,
                "unsupported-media-type",
                "charset 'klingon' is not known",
            ),
            (b"id_number,since\n" + b"a,b\n" * 4, CSV, 413, "batch-too-large", "a batch may hold at most 3 records"),
        ],
        ids=[
            "empty",
            "header only",
            "unknown column",
            "missing column",
            "repeated column",
            "empty column name",
            "unterminated quote",
            "not UTF-8",
            "unknown charset",
            "too many",
        ],
    )
    def test_a_bad_csv_is_refused_whole(
        self, body: bytes, content_type: str, status: int, slug: str, detail: str
    ) -> None:
        error = refused(body, content_type)
        assert (error.status, error.slug) == (status, slug)
        assert error.detail.startswith(detail)


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/xml", "multipart/form-data"])
def test_other_media_types_are_refused(content_type: str | None) -> None:
    error = refused(b'{"records": [{}]}', content_type)
    assert (error.status, error.slug) == (415, "unsupported-media-type")
    assert error.extensions == {"accepted": [JSON, CSV]}


def test_a_batch_at_the_record_limit_is_read_whole() -> None:
    assert len(parse_batch(b'{"records": [{}, {}, {}]}', JSON, DIBAO, LIMITS).records) == 3
    assert len(parse_batch(b"id_number,since\n" + b"a,b\n" * 3, CSV, DIBAO, LIMITS).records) == 3


def test_a_body_over_the_byte_limit_is_refused_before_reading() -> None:
    error = refused(b'{"records": [{}]}' + b" " * 4096, JSON)
    assert (error.status, error.slug) == (413, "batch-too-large")
    assert error.detail == "a batch body may have at most 4096 bytes; split the push"


@pytest.mark.parametrize("charset", ["base64", "rot13", "hex"])
def test_a_codec_that_is_not_a_text_charset_is_415(charset: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_batch(b"id_number,since\na,b\n", f"text/csv; charset={charset}", DIBAO, LIMITS)
    assert refused.value.status == 415


def test_json_nested_too_deeply_is_a_malformed_batch() -> None:
    with pytest.raises(DomainError) as refused:
        parse_batch(b'{"records": ' + b"[" * 5000, JSON, DIBAO, Limits(max_records=3, max_bytes=10_000))
    assert refused.value.status == 400 and "nested too deeply" in refused.value.detail
