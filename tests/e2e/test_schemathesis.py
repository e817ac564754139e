"""schemathesis against the merged OpenAPI document the gateway serves: a bounded number of generated
requests per operation (its examples, boundary values and random ones), sent with an admin key
through the gateway, and every answer checked against the document: no 5xx, no status, content type,
header or body the document does not describe.

It runs after every other end-to-end test (it writes budgets, clients and agreements of its own
making), with a fixed seed so a failure in CI replays the same requests; `st run` with another seed
explores further (README, "Testing")."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningSystem

pytestmark = pytest.mark.e2e
RUN_LAST = True

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
MAX_EXAMPLES = 10
SEED = "20181201"


def schemathesis_command(gateway: str, api_key: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{gateway}/openapi.json",
        "--header",
        f"Authorization: Bearer {api_key}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--request-timeout",
        "15",
        "--no-color",
    ]


async def test_no_generated_request_gets_a_5xx_or_an_answer_the_document_does_not_describe(
    system: RunningSystem, tmp_path: Path
) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        schemathesis_command(system.gateway, system.admin_key),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-20000:]
    # It tested every operation of the document, not a few.
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    tested = re.search(r"Tested: (\d+)", report)
    assert selected and tested, report[-3000:]
    assert int(tested.group(1)) == int(selected.group(2)) >= 40, report[-3000:]
