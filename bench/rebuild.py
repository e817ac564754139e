"""Issue 11: the subsidy projection rebuilt from the topics.

11. After the other sections (run it with `bulk` for a sizeable topic), the subsidy service is
    stopped and `rongchang projection rebuild subsidy` wipes its projection and reads
    `registry.person.v1`, `registry.employment.v1` (its projection consumer) and `sharing.fact.v1`
    (its sharing consumer) again from the start under a new consumer group prefix, as an operator
    would; printed: the events read on all three, the seconds and events per second. After a bulk
    push of N dibao records that is about 2N: each record is a fact on `sharing.fact.v1` and, with
    the category it gives, a person snapshot on `registry.person.v1`.
    The service is started again under the new prefix.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

from deploy.embedded import System

TARGET = 5_000


async def rebuild(system: System) -> None:
    print("\n11. The subsidy projection rebuilt from the topics (`rongchang projection rebuild subsidy`)")
    prefix = f"bench-rebuild-{uuid.uuid4().hex[:6]}."
    await asyncio.to_thread(system.stop_process, "subsidy")
    command = str(Path(sys.executable).parent / "rongchang")
    started = time.perf_counter()
    done = await asyncio.to_thread(
        subprocess.run,
        [command, "projection", "rebuild", "subsidy", "--prefix", prefix, "--yes", "--within", "3600"],
        env=system.environment("subsidy"),
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the rebuild failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    events = int(done.stdout.split("rebuilt subsidy's projection from ")[1].split()[0])
    print(
        f"  {events:,} events (registry.person.v1, registry.employment.v1, sharing.fact.v1) in {elapsed:.1f} s "
        f"(the command's start-up included): {events / elapsed:,.0f} events/s"
        f"   (target >= {TARGET:,})"
    )
    await asyncio.to_thread(system.restart_service, "subsidy", {"SUBSIDY_KAFKA_CONSUMER_GROUP_PREFIX": prefix})
