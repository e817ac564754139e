"""The README's configuration table names every setting of every settings class, written out in
full, each with its default and what production must do with it."""

from __future__ import annotations

import re

import pytest
from pydantic_settings import BaseSettings

from services.cli.settings import CliSettings
from services.gateway.settings import GatewaySettings
from services.kit.settings import ServiceSettings
from services.registry.settings import RegistrySettings
from services.sharing.settings import SharingSettings
from services.subsidy.settings import SubsidySettings
from tests.support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Configuration\n") : README.index("## Operating it\n")]
ROWS = [line for line in SECTION.splitlines() if line.startswith("| `")]
SERVICES: dict[str, type[BaseSettings]] = {
    "REGISTRY": RegistrySettings,
    "SUBSIDY": SubsidySettings,
    "SHARING": SharingSettings,
    "GATEWAY": GatewaySettings,
}


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip("|").split("|")]


def named(row: str) -> set[str]:
    return set(re.findall(r"`([A-Z*][A-Z0-9_*<>…]+)`", cells(row)[0]))


NAMED = {name for row in ROWS for name in named(row)}


def settings_names() -> list[str]:
    shared = set(ServiceSettings.model_fields)
    names = [f"*_{field.upper()}" for field in shared]
    for prefix, settings in SERVICES.items():
        names += [f"{prefix}_{field.upper()}" for field in set(settings.model_fields) - shared]
    names += [f"RONGCHANG_{field.upper()}" for field in CliSettings.model_fields]
    return sorted(names)


@pytest.mark.parametrize("name", settings_names())
def test_every_setting_is_in_the_table(name: str) -> None:
    assert name in NAMED, f"{name} is missing from the README's configuration table"


def test_every_row_says_its_default_and_what_production_does() -> None:
    assert len(ROWS) >= 50
    for row in ROWS:
        _setting, default, production, meaning = cells(row)
        assert default and meaning, row
        assert re.search(r"\*\*(set|same|keep|tune|never)\*\*", production), row


def test_the_table_names_nothing_that_is_not_a_setting() -> None:
    known = set(settings_names()) | {"SUBSIDY_<PROGRAMME>_…_FEN", "DEVELOPMENT_MODE"}
    # A service's own default of a shared setting is written out under the shared row.
    overrides = {f"{prefix}_{field.upper()}" for prefix in SERVICES for field in ServiceSettings.model_fields}
    assert NAMED - known - overrides == set()
