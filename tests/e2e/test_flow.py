"""The plan's central flow through the gateway over HTTP, against the four services as processes."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from datetime import date

import httpx
import pytest

from services.kit.clock import SYSTEM_CLOCK
from tests.e2e.agencies import Agency, client, hired_for_a_year, problem
from tests.e2e.conftest import RunningSystem
from tests.registry.people import credit_code, id_number
from tests.support import ROOT

pytestmark = pytest.mark.e2e


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", readme, re.S)
    assert match, "README.md has no walk-through block"
    return match.group(1)


async def test_the_readme_walkthrough_pays_the_subsidy_once_and_runs_again(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    env = {**os.environ, "GW": system.gateway, "ADMIN_KEY": system.admin_key}
    reader = await client(http, system, "hrss", "subsidy:read", "registry:read")
    seen = []
    for _ in range(2):  # against the same databases: a second run needs no `make clean`
        result = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-euo", "pipefail", "-c", walkthrough()],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert "paid" in lines and "ineligible" in lines
        assert '"eligible"' in result.stdout and '"passed": false' not in result.stdout.split("ineligible")[0]
        [number] = [line.split()[-1] for line in lines if line.startswith("id number ")]
        seen.append(number)

        found = (await reader.call("GET", f"/registry/v1/persons?id_number={number}")).json()["items"]
        person_id = found[0]["person_id"]
        applications = (await reader.call("GET", f"/subsidy/v1/applications?beneficiary_person_id={person_id}")).json()
        statuses = sorted(a["status"] for a in applications["items"])
        assert statuses == ["ineligible", "paid"]
        paid = next(a for a in applications["items"] if a["status"] == "paid")
        payments = (await reader.call("GET", f"/subsidy/v1/payments?application_id={paid['application_id']}")).json()
        assert [(p["status"], p["amount"]) for p in payments["items"]] == [("settled", "6000.00")]
    assert seen[0] != seen[1], "each run registers a woman of its own"


async def test_the_walkthrough_gives_up_waiting_after_30_seconds_with_a_message() -> None:
    # Its wait loop, with a `sleep` that moves bash's clock on by 10 s instead of waiting.
    script = walkthrough()
    helper = script[script.index("wait_for() {") : script.index("# Each run is")]
    result = await asyncio.to_thread(
        subprocess.run,
        [
            "bash",
            "-euo",
            "pipefail",
            "-c",
            helper + 'sleep() { SECONDS=$((SECONDS + 10)); }; wait_for "what never comes" false',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "gave up after 30 s waiting for what never comes" in result.stderr


async def test_ten_concurrent_applications_give_at_most_one_payment(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    desk = await client(http, system, "hrss", "registry:read", "registry:write", "subsidy:apply", "subsidy:read")
    civil = await client(http, system, "civil_affairs", "sharing:submit")
    reviewer = await client(http, system, "hrss", "subsidy:review", "subsidy:read")
    admin = Agency(http, system, system.admin_key)
    await admin.call(
        "PUT", f"/subsidy/v1/budgets/hiring_key_groups/{SYSTEM_CLOCK.today().year}", {"amount": "900000.00"}
    )
    person_id, employment_id, employer = await hired_for_a_year(desk, civil)
    body = {
        "programme": "hiring_key_groups",
        "beneficiary_person_id": person_id,
        "applicant": {"kind": "employer", "credit_code": employer},
        "employment_id": employment_id,
    }

    answers = await asyncio.gather(*(desk.call("POST", "/subsidy/v1/applications", body) for _ in range(10)))
    created = [a.json()["application_id"] for a in answers if a.status_code == 201]
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
    assert len(created) >= 1
    decisions = await asyncio.gather(
        *(
            reviewer.call("POST", f"/subsidy/v1/applications/{app}/decision", {"decision": "approve", "note": "ok"})
            for app in created
            for _ in range(3)
        )
    )
    assert sum(d.status_code == 200 for d in decisions) == 1, [d.text for d in decisions]

    payments = []
    for app in created:
        payments += (await reviewer.call("GET", f"/subsidy/v1/payments?application_id={app}")).json()["items"]
    assert len(payments) == 1 and payments[0]["amount"] == "6000.00"


async def test_bad_input_at_each_step_is_a_precise_problem_and_changes_nothing(
    system: RunningSystem, http: httpx.AsyncClient
) -> None:
    desk = await client(http, system, "hrss", "registry:read", "registry:write", "subsidy:apply", "subsidy:read")
    civil = await client(http, system, "civil_affairs", "sharing:submit")
    treasury = await client(http, system, "hrss", "subsidy:settle", "subsidy:read")

    # the gateway: no key, a wrong key, a missing scope
    assert (await http.get(system.gateway + "/registry/v1/persons")).status_code == 401
    problem(await Agency(http, system, "rk_not_a_key").call("GET", "/registry/v1/persons"), 401)
    problem(await civil.call("GET", "/registry/v1/persons"), 403)

    # registry: a wrong check character, an impossible birth date, then a good registration
    number = id_number(date(1980, 2, 2))
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert (
        "check character"
        in problem(
            await desk.call("POST", "/registry/v1/persons", {"id_number": wrong, "name": "周", "hukou_type": "urban"}),
            422,
        )["detail"]
    )
    problem(
        await desk.call("POST", "/registry/v1/persons", {"id_number": number, "name": "周", "hukou_type": "city"}), 422
    )
    created = await desk.call(
        "POST", "/registry/v1/persons", {"id_number": number, "name": "周", "hukou_type": "urban"}
    )
    person_id = created.json()["person_id"]
    duplicate = problem(
        await desk.call("POST", "/registry/v1/persons", {"id_number": number, "name": "周", "hukou_type": "urban"}), 409
    )
    assert duplicate["person_id"] == person_id
    problem(
        await desk.call(
            "POST", f"/registry/v1/persons/{person_id}/unemployment-registrations", {"registered_on": "2999-01-01"}
        ),
        422,
    )
    problem(
        await desk.call(
            "POST",
            f"/registry/v1/persons/{person_id}/employments",
            {
                "employer_credit_code": "91500153MA60XK7Q3Z",
                "employer_name": "x",
                "started_on": "2024-01-01",
                "kind": "employee",
            },
        ),
        422,
    )
    problem(
        await desk.call(
            "POST",
            f"/registry/v1/persons/{person_id}/employments",
            {"employer_credit_code": credit_code(), "employer_name": "x", "started_on": "2024-01-01", "kind": "gig"},
        ),
        422,
    )
    person = (await desk.call("GET", f"/registry/v1/persons/{person_id}")).json()
    assert person["status"] == "none" and person["unemployment_registrations"] == [] and person["version"] == 1

    # sharing: another agency's dataset, an unknown dataset, a batch with a bad record
    problem(
        await civil.call(
            "POST",
            "/sharing/v1/agencies/public_security/datasets/identity/records",
            {"records": [{"id_number": number}]},
        ),
        403,
    )
    problem(
        await civil.call(
            "POST", "/sharing/v1/agencies/civil_affairs/datasets/nonsense/records", {"records": [{"id_number": number}]}
        ),
        404,
    )
    problem(await civil.call("POST", "/sharing/v1/agencies/civil_affairs/datasets/dibao/records", {"records": []}), 422)
    mixed = await civil.call(
        "POST",
        "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
        {"records": [{"id_number": wrong, "since": "2024-01-01"}]},
    )
    assert mixed.status_code == 201 and mixed.json()["accepted"] == 0
    assert mixed.json()["rejected"][0]["errors"][0]["field"] == "id_number"

    # subsidy: an unknown programme, an incomplete claim, a settlement of nothing
    problem(
        await desk.call(
            "POST",
            "/subsidy/v1/applications",
            {
                "programme": "free_money",
                "beneficiary_person_id": person_id,
                "applicant": {"kind": "employer", "credit_code": credit_code()},
            },
        ),
        422,
    )
    # A claim that lacks what the programme needs.
    problem(
        await desk.call(
            "POST",
            "/subsidy/v1/applications",
            {
                "programme": "hiring_key_groups",
                "beneficiary_person_id": person_id,
                "applicant": {"kind": "employer", "credit_code": credit_code()},
            },
        ),
        422,
    )
    problem(
        await treasury.call(
            "POST",
            "/subsidy/v1/payments/7d9f2c1e-0000-4000-8000-000000000002/settlement",
            {"outcome": "settled", "bank_reference": "RC-1"},
        ),
        404,
    )
    problem(
        await treasury.call(
            "POST", "/subsidy/v1/payments/7d9f2c1e-0000-4000-8000-000000000002/settlement", {"outcome": "maybe"}
        ),
        422,
    )
    listed = (await desk.call("GET", f"/subsidy/v1/applications?beneficiary_person_id={person_id}")).json()
    assert listed["items"] == []


async def test_idempotency_key_replays_through_the_gateway(system: RunningSystem, http: httpx.AsyncClient) -> None:
    # Over real HTTP the repeat goes out the moment the first answer arrives: the replay must be
    # stored by then (an in-process ASGI client could not show this race).
    desk = await client(http, system, "hrss", "registry:read", "registry:write")
    body = {"id_number": id_number(date(1999, 9, 9)), "name": "吴", "hukou_type": "rural"}
    first = await desk.call("POST", "/registry/v1/persons", body, headers={"Idempotency-Key": "e2e-once"})
    again = await desk.call("POST", "/registry/v1/persons", body, headers={"Idempotency-Key": "e2e-once"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    changed = await desk.call(
        "POST", "/registry/v1/persons", {**body, "name": "郑"}, headers={"Idempotency-Key": "e2e-once"}
    )
    problem(changed, 422)
    assert first.headers["x-request-id"]
