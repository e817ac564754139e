"""CPU and memory of processes on this machine, read from Linux /proc: what the benchmarks report
beside their timings, so a figure can be traced to the process that spent it."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def postgres_cpu_s() -> float:
    """CPU seconds of PostgreSQL so far: every server process alive now, and the backends that
    exited (the postmaster's reaped children), so that two readings compare whatever connections
    opened or closed between them."""
    total = 0.0
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                processes[int(entry.name)] = Path(f"/proc/{entry.name}/stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
    for fields in processes.values():
        total += int(fields[11]) + int(fields[12])
        if int(fields[1]) not in processes:  # the postmaster: its children that exited
            total += int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")
