"""The treasury's callback: a settled payment marks the application paid and spends the
reservation; a failed one releases it exactly once; a repeat is harmless, a contradiction refused."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from contracts.envelope import CloudEvent
from contracts.subsidy import PAYMENT_FAILED, PAYMENT_INSTRUCTED, PAYMENT_SETTLED
from contracts.topics import SUBSIDY_PAYMENT
from tests.subsidy.scenario import API, GRANT_FEN, REVIEWER, Harness, eligible_hire, problem
from tests.support import eventually

pytestmark = pytest.mark.integration


async def payment_events(bootstrap: str, payment_id: str, settle_after: int) -> list[str]:
    """Types of the payment's events, read until `settle_after` arrived and the topic is drained."""
    consumer = AIOKafkaConsumer(
        SUBSIDY_PAYMENT, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    types: list[str] = []
    try:

        async def arrived() -> bool:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = CloudEvent.from_bytes(record.value or b"")
                    if event.data["payment_id"] == payment_id:
                        types.append(event.type)
            return len(types) >= settle_after

        await eventually(arrived)
        # Drain what is on the topic now, so an extra event would be seen.
        end = await consumer.end_offsets(list(consumer.assignment()))
        for partition, offset in end.items():
            while await consumer.position(partition) < offset:
                await arrived()
    finally:
        await consumer.stop()
    return types


async def test_a_failed_payment_releases_the_reservation_once(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    before = await subsidy.budget()
    hire = await subsidy.project(eligible_hire())
    application, payment = await subsidy.approved(hire)
    assert (await subsidy.budget())["reserved_fen"] == before["reserved_fen"] + GRANT_FEN

    failed = await subsidy.settle(payment["payment_id"], outcome="failed", reason="account closed")
    assert failed.status_code == 200, failed.text
    assert failed.json()["status"] == "failed" and failed.json()["reason"] == "account closed"
    assert (await subsidy.application(application["application_id"]))["status"] == "payment_failed"
    released = await subsidy.budget()
    assert (released["reserved_fen"], released["spent_fen"]) == (before["reserved_fen"], before["spent_fen"])

    # The same callback again, even several at once: same answer, nothing released twice.
    state = await subsidy.state()
    repeats = await asyncio.gather(
        *(subsidy.settle(payment["payment_id"], outcome="failed", reason="account closed") for _ in range(5))
    )
    assert {r.status_code for r in repeats} == {200}
    assert all(r.json() == failed.json() for r in repeats)
    assert await subsidy.state() == state

    # A contradicting outcome is refused.
    body = problem(
        await subsidy.settle(payment["payment_id"], outcome="settled", bank_reference="ICBC-1"),
        409,
        "settlement-conflict",
    )
    assert body["payment_status"] == "failed" and body["reason"] == "account closed"
    assert await subsidy.state() == state
    assert await payment_events(subsidy.bootstrap, payment["payment_id"], 2) == [PAYMENT_INSTRUCTED, PAYMENT_FAILED]

    # The failed application still holds the grant: a new application is ineligible, naming it ...
    again = (await subsidy.apply(hire)).json()
    assert again["failed_rules"] == ["never_paid_before"], again
    await subsidy.decide(again["application_id"], "reject", note="the first one is being paid")

    # ... and an operator instructs a new payment, which reserves again and can be paid.
    reinstructed = await subsidy.client.post(
        f"{API}/applications/{application['application_id']}/payments", json={}, **REVIEWER
    )
    assert reinstructed.status_code == 201, reinstructed.text
    second = reinstructed.json()
    assert second["payment_id"] != payment["payment_id"] and second["status"] == "instructed"
    assert (await subsidy.budget())["reserved_fen"] == before["reserved_fen"] + GRANT_FEN
    assert (await subsidy.application(application["application_id"]))["status"] == "approved"
    # Only after a failure, and one live payment at a time.
    problem(
        await subsidy.client.post(f"{API}/applications/{application['application_id']}/payments", json={}, **REVIEWER),
        409,
        "payment-not-failed",
    )
    settled = await subsidy.settle(second["payment_id"], outcome="settled", bank_reference="ICBC-2")
    assert settled.status_code == 200, settled.text
    assert (await subsidy.application(application["application_id"]))["status"] == "paid"
    after = await subsidy.budget()
    assert (after["reserved_fen"], after["spent_fen"]) == (before["reserved_fen"], before["spent_fen"] + GRANT_FEN)


async def test_a_repeated_settlement_is_harmless_and_a_different_one_is_refused(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    before = await subsidy.budget()
    _, payment = await subsidy.approved(await subsidy.project(eligible_hire()))

    settled = await subsidy.settle(payment["payment_id"], outcome="settled", bank_reference="CCB-42")
    assert settled.status_code == 200
    state = await subsidy.state()
    again = await subsidy.settle(payment["payment_id"], outcome="settled", bank_reference="CCB-42")
    assert again.status_code == 200 and again.json() == settled.json()
    assert await subsidy.state() == state

    body = problem(
        await subsidy.settle(payment["payment_id"], outcome="settled", bank_reference="CCB-43"),
        409,
        "settlement-conflict",
    )
    assert body["bank_reference"] == "CCB-42"
    problem(await subsidy.settle(payment["payment_id"], outcome="failed", reason="late"), 409, "settlement-conflict")
    assert await subsidy.state() == state

    after = await subsidy.budget()
    assert after["spent_fen"] == before["spent_fen"] + GRANT_FEN
    assert after["reserved_fen"] == before["reserved_fen"]
    assert await payment_events(subsidy.bootstrap, payment["payment_id"], 2) == [PAYMENT_INSTRUCTED, PAYMENT_SETTLED]


async def test_concurrent_identical_settlements_spend_once(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    before = await subsidy.budget()
    application, payment = await subsidy.approved(await subsidy.project(eligible_hire()))
    results = await asyncio.gather(
        *(subsidy.settle(payment["payment_id"], outcome="settled", bank_reference="ABC-9") for _ in range(10))
    )
    assert {r.status_code for r in results} == {200}
    after = await subsidy.budget()
    assert after["spent_fen"] == before["spent_fen"] + GRANT_FEN
    assert after["reserved_fen"] == before["reserved_fen"]
    assert (await subsidy.application(application["application_id"]))["status"] == "paid"
