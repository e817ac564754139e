"""The datasets the bureau shares outward. Adding one is a module and a line here."""

from __future__ import annotations

from . import employment_status
from .declaration import OutwardDataset

OUTWARD: dict[str, OutwardDataset] = {dataset.code: dataset for dataset in (employment_status.DATASET,)}
