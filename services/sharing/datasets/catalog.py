"""The datasets the bureau accepts, by agency. Adding one is a declaration in its agency's module
and a line here; the batch plumbing does not change."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from services.kit.errors import NotFound

from . import civil_affairs, disabled_federation, public_security, statistics
from .declaration import AnyDataset


class Catalog:
    def __init__(self, datasets: Iterable[AnyDataset]) -> None:
        self._by_code: dict[tuple[str, str], AnyDataset] = {}
        for dataset in datasets:
            if (dataset.agency, dataset.name) in self._by_code:
                raise ValueError(f"dataset {dataset.code} declared twice")
            self._by_code[(dataset.agency, dataset.name)] = dataset

    @property
    def agencies(self) -> list[str]:
        return sorted({agency for agency, _ in self._by_code})

    def datasets_of(self, agency: str) -> list[str]:
        return sorted(name for owner, name in self._by_code if owner == agency)

    def __iter__(self) -> Iterator[AnyDataset]:
        return iter(self._by_code.values())

    def ensure_agency(self, agency: str) -> None:
        if agency not in self.agencies:
            raise NotFound(
                f"no datasets are declared for agency {agency!r}; agencies with datasets: {', '.join(self.agencies)}",
                slug="unknown-agency",
                known_agencies=self.agencies,
            )

    def find(self, agency: str, name: str) -> AnyDataset | None:
        return self._by_code.get((agency, name))

    def get(self, agency: str, name: str) -> AnyDataset:
        self.ensure_agency(agency)
        dataset = self.find(agency, name)
        if dataset is None:
            known = self.datasets_of(agency)
            raise NotFound(
                f"agency {agency!r} has no dataset {name!r}; its datasets: {', '.join(known)}",
                slug="unknown-dataset",
                known_datasets=known,
            )
        return dataset


CATALOG = Catalog(
    [
        *public_security.DATASETS,
        *civil_affairs.DATASETS,
        *disabled_federation.DATASETS,
        *statistics.DATASETS,
    ]
)
