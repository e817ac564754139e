"""Turns a pushed body, JSON `{"records": [...]}` or CSV with a header row, into raw records.

Anything wrong with the batch as a whole (not JSON, no records, a CSV header naming unknown
columns, too many records) is refused whole with a problem; what is wrong with a single record is
left to that record's validation, so the rest of the batch still counts.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from services.kit.text import shown

from ..datasets.declaration import AnyDataset
from ..problems import BatchTooLarge, InvalidBatch, InvalidCsv, MalformedBatch, UnsupportedBatchType

JSON = "application/json"
CSV = "text/csv"


@dataclass(frozen=True)
class Limits:
    max_records: int
    max_bytes: int
    # A push of more records than this is a bulk load (its facts go in the bulk lane).
    bulk_records: int = 100


@dataclass(frozen=True)
class RawRecord:
    """One record as sent: a JSON value, or a CSV row as {column: cell} without empty cells.
    `problem` is a record-level format fault found while reading it (a CSV row's cell count)."""

    value: object
    problem: str | None = None


@dataclass(frozen=True)
class RawBatch:
    media_type: str
    records: list[RawRecord]


def parse_batch(body: bytes, content_type: str | None, dataset: AnyDataset, limits: Limits) -> RawBatch:
    if len(body) > limits.max_bytes:
        raise too_large_bytes(limits.max_bytes)
    media_type, params = _media_type(content_type)
    if media_type == JSON or media_type.endswith("+json"):
        return RawBatch(JSON, _json_records(body, limits))
    if media_type == CSV:
        return RawBatch(CSV, _csv_records(body, params.get("charset", "utf-8"), dataset, limits))
    raise UnsupportedBatchType(
        f"Content-Type {content_type or '(none)'} is not accepted; send application/json "
        '{"records": [...]} or text/csv with a header row',
        accepted=[JSON, CSV],
    )


def too_large_bytes(max_bytes: int) -> BatchTooLarge:
    return BatchTooLarge(f"a batch body may have at most {max_bytes} bytes; split the push", max_bytes=max_bytes)


def _too_many(limits: Limits) -> BatchTooLarge:
    return BatchTooLarge(
        f"a batch may hold at most {limits.max_records} records; split the push", max_records=limits.max_records
    )


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    if not content_type:
        return "", {}
    kind, *rest = content_type.split(";")
    params: dict[str, str] = {}
    for param in rest:
        name, _, value = param.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_records(body: bytes, limits: Limits) -> list[RawRecord]:
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise MalformedBatch("the body is not UTF-8 encoded JSON") from None
    except ValueError as exc:
        raise MalformedBatch(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise MalformedBatch("the body is not valid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise InvalidBatch('the body must be a JSON object {"records": [...]}')
    unknown = sorted(set(document) - {"records"})
    if unknown:
        raise InvalidBatch(f"unknown member(s) {', '.join(map(shown, unknown))}; the body holds only `records`")
    records = document.get("records")
    if not isinstance(records, list):
        raise InvalidBatch('the body must hold a list `records`: {"records": [...]}')
    if not records:
        raise InvalidBatch("`records` is empty; a batch holds at least one record")
    if len(records) > limits.max_records:
        raise _too_many(limits)
    return [RawRecord(record) for record in records]


def _csv_records(body: bytes, charset: str, dataset: AnyDataset, limits: Limits) -> list[RawRecord]:
    try:
        codec = codecs.lookup(charset)
        if not codec._is_text_encoding:  # base64, rot13, hex ... are codecs, not charsets
            raise LookupError(charset)
    except LookupError:
        raise UnsupportedBatchType(f"charset {charset!r} is not known; use utf-8 or gb18030") from None
    try:
        # Spreadsheet exports often begin with a byte-order mark, in any encoding.
        text = body.decode(codec.name).removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise MalformedBatch(
            f"the CSV is not valid {codec.name}; declare its charset, e.g. text/csv; charset=gb18030"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    records: list[RawRecord] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines are not records
            if header is None:
                header = _checked_header(row, dataset)
                continue
            if len(records) == limits.max_records:
                raise _too_many(limits)
            records.append(_csv_record(header, row))
    except csv.Error as exc:
        raise MalformedBatch(f"the CSV cannot be read at line {reader.line_num}: {exc}") from None
    if header is None:
        raise InvalidBatch(f"the CSV is empty; it needs a header row ({', '.join(dataset.fields)}) and records")
    if not records:
        raise InvalidBatch("the CSV has a header but no records; a batch holds at least one")
    return records


def _checked_header(row: list[str], dataset: AnyDataset) -> list[str]:
    header = [cell.strip() for cell in row]
    fields = ", ".join(dataset.fields)
    if "" in header:
        raise InvalidCsv(f"the CSV header has an empty column name; {dataset.code} has {fields}")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InvalidCsv(f"the CSV header repeats {', '.join(map(shown, duplicates))}")
    unknown = [name for name in header if name not in dataset.fields]
    if unknown:
        raise InvalidCsv(
            f"the CSV header names {', '.join(map(shown, unknown))}, not field(s) of {dataset.code}; "
            f"its fields are {fields}"
        )
    missing = [name for name in dataset.required_fields if name not in header]
    if missing:
        raise InvalidCsv(f"the CSV header lacks required column(s) {', '.join(missing)} of {dataset.code}")
    return header


def _csv_record(header: list[str], row: list[str]) -> RawRecord:
    value = {name: cell.strip() for name, cell in zip(header, row, strict=False) if cell.strip()}
    if len(row) != len(header):
        return RawRecord(value, problem=f"the row has {len(row)} cells; the header has {len(header)}")
    return RawRecord(value)
