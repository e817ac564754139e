"""`python -m services.kit.serve`: what it sets up before uvicorn runs the app."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT

PROBE = """
import gc
from services.kit.serve import config
before = gc.get_freeze_count()
config("registry", host="127.0.0.1", port=0)
print(before, gc.get_freeze_count())
"""


def test_what_start_up_built_is_frozen_out_of_the_collectors_sight() -> None:
    """The app, its models and its modules are moved to the permanent generation, so a full
    collection under load walks only what requests made (tail latencies of large pages)."""
    # Its own interpreter: freezing is for the life of the process.
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, "DEVELOPMENT_MODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    before, after = (int(n) for n in probe.stdout.split()[-2:])
    assert before == 0 and after > 100_000
