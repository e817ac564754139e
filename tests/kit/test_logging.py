"""JSON logs never carry a raw resident id number: not in the message, not in `extra` fields,
not in an exception's traceback."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kit.identifiers import id_check_character
from services.kit.logging import REQUEST_ID, JsonFormatter, RedactingFormatter, redact

RAW = "11010519491231002X"
MASKED = "110105********002X"
OTHER_RAW = "500153198001011235"
OTHER_MASKED = "500153********1235"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (RAW, MASKED),
        (f"registered {RAW} today", f"registered {MASKED} today"),
        (f"id_number={RAW}", f"id_number={MASKED}"),
        (f"身份证号{RAW}已登记", f"身份证号{MASKED}已登记"),
        ("lower case x: 11010519491231002x", "lower case x: 110105********002x"),
        (f"/persons/{RAW}/employments", f"/persons/{MASKED}/employments"),
        (f"'{RAW}', \"{OTHER_RAW}\"", f"'{MASKED}', \"{OTHER_MASKED}\""),
        (f"{RAW},{OTHER_RAW}", f"{MASKED},{OTHER_MASKED}"),
    ],
)
def test_redact_masks_id_numbers_in_free_text(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "no identifiers here",
        "person 6f1c1d7e-5d0e-4f61-9a57-1b8e3b0f9d11",
        MASKED,
        "amount_fen=600000 year=2018",
    ],
)
def test_redact_leaves_other_text_alone(text: str) -> None:
    assert redact(text) == text


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("registry"))
    logger = logging.getLogger("tests.kit.json_log")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.handlers[:] = []


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_log_line_is_json_with_service_level_logger_and_request_id(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    token = REQUEST_ID.set("req-123")
    try:
        logger.info("person registered", extra={"person_id": "6f1c1d7e"})
    finally:
        REQUEST_ID.reset(token)
    (entry,) = lines(stream)
    assert entry["service"] == "registry"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "tests.kit.json_log"
    assert entry["message"] == "person registered"
    assert entry["request_id"] == "req-123"
    assert entry["person_id"] == "6f1c1d7e"


def test_an_id_number_in_the_message_or_its_arguments_is_masked(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_log
    logger.warning(f"duplicate registration of {RAW}")
    logger.warning("lookup of %s failed", OTHER_RAW)
    text = stream.getvalue()
    assert RAW not in text and OTHER_RAW not in text
    assert [entry["message"] for entry in lines(stream)] == [
        f"duplicate registration of {MASKED}",
        f"lookup of {OTHER_MASKED} failed",
    ]


def test_an_id_number_in_extra_fields_is_masked(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_log
    logger.info(
        "record rejected",
        extra={
            "id_number": RAW,
            "record": {"id_number": OTHER_RAW, "since": date(2018, 1, 1)},
            "batch": [RAW, {"nested": [OTHER_RAW]}],
            "as_bytes": RAW.encode(),
        },
    )
    text = stream.getvalue()
    assert RAW not in text and OTHER_RAW not in text
    (entry,) = lines(stream)
    assert entry["id_number"] == MASKED
    assert entry["record"] == {"id_number": OTHER_MASKED, "since": "2018-01-01"}
    assert entry["batch"] == [MASKED, {"nested": [OTHER_MASKED]}]


def test_an_id_number_in_an_exception_and_its_cause_is_masked(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_log
    try:
        try:
            raise KeyError(OTHER_RAW)
        except KeyError as cause:
            raise ValueError(f"cannot register {RAW}") from cause
    except ValueError:
        logger.exception("registration failed for %s", RAW)
    text = stream.getvalue()
    assert RAW not in text and OTHER_RAW not in text
    (entry,) = lines(stream)
    assert f"ValueError: cannot register {MASKED}" in entry["exception"]
    assert OTHER_MASKED in entry["exception"]
    assert entry["message"] == f"registration failed for {MASKED}"


def test_the_plain_text_formatter_masks_too() -> None:
    record = logging.makeLogRecord({"msg": "seen %s", "args": (RAW,), "levelname": "INFO", "name": "x"})
    assert RedactingFormatter("%(message)s").format(record) == f"seen {MASKED}"


id_numbers = st.builds(
    lambda area, born, seq: (first17 := f"{area}{born:%Y%m%d}{seq}") + id_check_character(first17),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)
# Text that may stand next to an id number: words, punctuation and Chinese, without letters or
# digits glued to it (a longer run of digits or letters is not an id number).
separators = st.text(alphabet=" :;,.=/()[]{}<>'\"|-_#@身份证号码已登记", max_size=5)
words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20)


@given(words, separators, id_numbers, separators, words, st.booleans())
def test_no_raw_id_number_reaches_a_json_log_line(
    before: str, left: str, id_number: str, right: str, after: str, lower: bool
) -> None:
    raw = id_number.lower() if lower else id_number
    formatter = JsonFormatter("subsidy")
    text = f"{before} {left}{raw}{right} {after}"
    record = logging.makeLogRecord({"msg": text, "levelname": "INFO", "name": "x", "detail": {"value": text}})
    try:
        raise RuntimeError(text)
    except RuntimeError:
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert raw not in line
    assert id_number not in line
    assert json.loads(line)["detail"]["value"].count("********") >= 1


@pytest.mark.parametrize("separator", ["\n", "\t", "\r"], ids=["newline", "tab", "carriage-return"])
def test_an_id_number_at_the_start_of_a_line_is_masked(
    separator: str, json_log: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = json_log
    logger.info(f"rejected records:{separator}{RAW}", extra={"rows": f"row 1{separator}{OTHER_RAW}"})
    text = stream.getvalue()
    assert RAW not in text
    assert OTHER_RAW not in text


def test_an_id_number_held_as_an_integer_leaves_a_valid_json_line(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_log
    logger.info("record rejected", extra={"id_number": 110105194912310021})
    assert "110105194912310021" not in stream.getvalue()
    (entry,) = lines(stream)
    assert "110105194912310021" not in str(entry["id_number"])


async def test_each_request_is_one_line_with_its_route_template_and_never_its_path_or_query(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import httpx

    from services.kit.app import ServiceDefinition, create_service_app
    from services.kit.settings import ServiceSettings

    app = create_service_app(
        ServiceDefinition(name="widgets", title="Widgets", description="Test", routers=[]), ServiceSettings()
    )
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.DEBUG, logger="services.kit.access"):
        async with httpx.AsyncClient(transport=transport, base_url="http://widgets.test") as client:
            await client.get("/docs", headers={"x-request-id": "req-42"})
            await client.get(f"/persons/{RAW}?id_number={OTHER_RAW}")
            await client.get("/healthz")
            await client.get("/openapi.json")
            await client.get("/docs-assets/swagger-ui.css")
    records = [r for r in caplog.records if r.name == "services.kit.access"]
    assert [(r.method, r.route, r.status, r.levelno) for r in records] == [  # type: ignore[attr-defined]
        ("GET", "/docs", 200, logging.INFO),
        ("GET", "unmatched", 401, logging.INFO),  # no signed identity: refused before routing
        ("GET", "/healthz", 200, logging.DEBUG),
        ("GET", "/openapi.json", 200, logging.INFO),  # a Starlette route, not FastAPI's
        ("GET", "/docs-assets", 200, logging.INFO),  # a mount: its prefix, not the file
    ]
    assert all(isinstance(r.duration_ms, float) for r in records)  # type: ignore[attr-defined]
    token = REQUEST_ID.set("req-42")
    try:
        lines = [json.loads(JsonFormatter("widgets").format(r)) for r in records]
    finally:
        REQUEST_ID.reset(token)
    assert lines[0]["request_id"] == "req-42" and lines[0]["client_id"] is None
    assert not any(RAW[6:14] in json.dumps(line) or OTHER_RAW[6:14] in json.dumps(line) for line in lines)
