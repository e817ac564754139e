"""A projection is rebuilt from the topics with `rongchang projection rebuild subsidy`: the service
stopped, its projection wiped and read again under a new consumer group prefix until caught up, the
service started under that prefix, and every beneficiary comes back the same (the inbox is keyed by
consumer group, so the replayed events are applied, not skipped)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.subsidy.tables import ProjectedPerson
from tests.e2e.conftest import RunningSystem
from tests.e2e.test_flow import client
from tests.registry.people import credit_code, id_number
from tests.support import eventually, execute, query

pytestmark = pytest.mark.e2e


def rongchang() -> str:
    """The console script the package installs (pyproject's [project.scripts])."""
    script = Path(sys.executable).parent / "rongchang"
    assert script.exists(), f"{script} is missing: `make install` installs the package and its script"
    return str(script)


def stable(beneficiary: dict[str, Any]) -> dict[str, Any]:
    # When the row was written is not what was projected.
    return {key: value for key, value in beneficiary.items() if key != "updated_at"}


async def test_a_wiped_projection_is_rebuilt_under_a_new_group_prefix(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    desk = await client(http, system, "hrss", "registry:read", "registry:write", "subsidy:read")
    civil = await client(http, system, "civil_affairs", "sharing:submit")
    people = []
    for n in range(5):
        number = id_number()
        created = await desk.call(
            "POST", "/registry/v1/persons", {"id_number": number, "name": f"重建{n}", "hukou_type": "urban"}
        )
        assert created.status_code == 201, created.text
        person_id = created.json()["person_id"]
        registered = await desk.call(
            "POST", f"/registry/v1/persons/{person_id}/unemployment-registrations", {"registered_on": "2024-03-01"}
        )
        assert registered.status_code == 201, registered.text
        if n % 2 == 0:
            hired = await desk.call(
                "POST",
                f"/registry/v1/persons/{person_id}/employments",
                {
                    "employer_credit_code": credit_code(),
                    "employer_name": "荣昌重建测试有限公司",
                    "started_on": "2024-05-01",
                    "contract_months": 24,
                    "kind": "employee",
                },
            )
            assert hired.status_code == 201, hired.text
        people.append((person_id, number, 1 if n % 2 == 0 else 0))
    pushed = await civil.call(
        "POST",
        "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
        {"records": [{"id_number": number, "since": "2023-01-01"} for _, number, _ in people]},
    )
    assert pushed.status_code == 201 and pushed.json()["accepted"] == len(people), pushed.text

    async def projected() -> dict[str, dict[str, Any]] | None:
        found = {}
        # Caught up: the dibao category and the employment snapshot (another topic) are both in.
        for person_id, _, employments in people:
            response = await desk.call("GET", f"/subsidy/v1/beneficiaries/{person_id}")
            if response.status_code != 200 or "low_income_family" not in response.text:
                return None
            if len(response.json()["employments"]) != employments:
                return None
            found[person_id] = stable(response.json())
        return found

    async def caught_up() -> bool:
        return await projected() is not None

    await eventually(caught_up, within=60)
    before = await projected()

    database = system.config.database_urls["subsidy"]
    await asyncio.to_thread(system.processes.stop_process, "subsidy")
    await execute(database, f"UPDATE {ProjectedPerson.__tablename__} SET snapshot = '{{}}'")  # spoiled, to be redone
    prefix = f"rebuild-{uuid.uuid4().hex[:6]}."
    rebuilt = await asyncio.to_thread(
        subprocess.run,
        [rongchang(), "projection", "rebuild", "subsidy", "--prefix", prefix, "--yes", "--within", "120"],
        env=system.processes.environment("subsidy"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert f"SUBSIDY_KAFKA_CONSUMER_GROUP_PREFIX={prefix}" in rebuilt.stdout
    events = int(rebuilt.stdout.split("rebuilt subsidy's projection from ")[1].split()[0])
    persons = (await query(database, f"SELECT count(*) AS n FROM {ProjectedPerson.__tablename__}"))[0]["n"]
    assert events >= len(people) and persons >= len(people), "caught up before the service starts again"
    spoiled = await query(
        database, f"SELECT count(*) AS n FROM {ProjectedPerson.__tablename__} WHERE snapshot::text = '{{}}'"
    )
    assert spoiled[0]["n"] == 0
    await asyncio.to_thread(
        system.processes.restart_service, "subsidy", {"SUBSIDY_KAFKA_CONSUMER_GROUP_PREFIX": prefix}
    )

    await eventually(caught_up, within=90)
    after = await projected()
    print(f"\nrebuild: {len(people)} beneficiaries projected again under {prefix!r}")
    assert after == before
