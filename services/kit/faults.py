"""Crash points for the crash tests: with KIT_CRASH_AT=<name> the process dies there, like kill -9."""

from __future__ import annotations

import os


def crash_point(name: str) -> None:
    if os.environ.get("KIT_CRASH_AT") == name:
        os._exit(137)
