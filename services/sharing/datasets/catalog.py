"""The datasets the bureau accepts, by agency. Adding one is a declaration in its agency's module
and a line here; the batch plumbing does not change."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from contracts.vocabulary import Agency

from ..problems import UnknownAgency, UnknownDataset
from . import (
    agriculture,
    civil_affairs,
    disabled_federation,
    education,
    hrss,
    market_supervision,
    public_security,
    statistics,
)
from .declaration import AnyDataset


class Catalog:
    def __init__(self, datasets: Iterable[AnyDataset]) -> None:
        # Keyed by plain strings: an Agency is one, so a path's own text finds its dataset.
        self._by_code: dict[tuple[str, str], AnyDataset] = {}
        for dataset in datasets:
            if (dataset.agency, dataset.name) in self._by_code:
                raise ValueError(f"dataset {dataset.code} declared twice")
            self._by_code[(dataset.agency, dataset.name)] = dataset

    @property
    def agencies(self) -> list[Agency]:
        """The agencies with at least one dataset, by code."""
        return sorted({dataset.agency for dataset in self._by_code.values()})

    def datasets_of(self, agency: Agency) -> list[str]:
        return sorted(name for owner, name in self._by_code if owner == agency)

    def __iter__(self) -> Iterator[AnyDataset]:
        return iter(self._by_code.values())

    def agency(self, code: str) -> Agency:
        """The agency a path names; 404 `unknown-agency` (naming the known ones) when it has no dataset,
        rather than the generic 422 an enum-typed path parameter would give."""
        known = self.agencies
        if code not in known:
            raise UnknownAgency(
                f"no datasets are declared for agency {code!r}; agencies with datasets: {', '.join(known)}",
                known_agencies=known,
            )
        return Agency(code)

    def find(self, agency: str, name: str) -> AnyDataset | None:
        return self._by_code.get((agency, name))

    def get(self, agency: str, name: str) -> AnyDataset:
        """The dataset a path names; 404 `unknown-agency` or `unknown-dataset` naming what there is."""
        owner = self.agency(agency)
        dataset = self._by_code.get((owner, name))
        if dataset is None:
            known = self.datasets_of(owner)
            raise UnknownDataset(
                f"agency {agency!r} has no dataset {name!r}; its datasets: {', '.join(known)}",
                known_datasets=known,
            )
        return dataset


CATALOG = Catalog(
    [
        *public_security.DATASETS,
        *civil_affairs.DATASETS,
        *disabled_federation.DATASETS,
        *statistics.DATASETS,
        *education.DATASETS,
        *agriculture.DATASETS,
        *market_supervision.DATASETS,
        *hrss.DATASETS,
    ]
)
