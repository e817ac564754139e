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
    """CPU seconds of every PostgreSQL process alive now (backends come and go: compare two readings
    over a window in which the services keep their pools open)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                total += cpu_s(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total
