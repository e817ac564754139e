"""`rongchang import <agency> <dataset> FILE.csv`: an agency's CSV pushed through the gateway in
batches, with a progress bar; resumable, with the rejected records written to a file.

Each batch is sent with an `Idempotency-Key` made of the file's SHA-256, the batch size and the
batch's number, and each batch's receipt is written to a state file (`FILE.csv.import.json`) as soon
as it comes back. Run again after an interruption, the command skips the batches on record and sends
the others; a batch whose answer was lost is sent again under the same key, and the gateway answers
it with the first receipt instead of keeping its records twice."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .settings import CliSettings, fail

RETRIED = {408, 409, 425, 429, 502, 503, 504}  # in flight, rate-limited, or unavailable: wait and send again


@dataclass
class ImportState:
    """What a run has done: one receipt per batch number, for the file of this digest and batch size."""

    path: Path
    digest: str
    batch_size: int
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, digest: str, batch_size: int) -> ImportState:
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("digest") != digest or saved.get("batch_size") != batch_size:
                raise fail(
                    f"{path} records an import of another file or batch size; "
                    "remove it to import this file from its start"
                )
            return cls(path, digest, batch_size, saved.get("batches", {}))
        return cls(path, digest, batch_size)

    def record(self, number: int, receipt: dict[str, Any]) -> None:
        self.batches[str(number)] = receipt
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text(
            json.dumps({"digest": self.digest, "batch_size": self.batch_size, "batches": self.batches}, indent=1),
            encoding="utf-8",
        )
        temporary.replace(self.path)  # atomic: a kill leaves the old state or the new one


def read_csv(path: Path, charset: str) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_bytes().decode(charset)
    except (UnicodeDecodeError, LookupError) as exc:
        raise fail(f"{path} is not {charset} text ({exc}); pass --charset") from exc
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise fail(f"{path} is empty: a CSV with a header row is expected")
    return rows[0], [row for row in rows[1:] if row]


def batch_body(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def send(client: httpx.Client, path: str, body: bytes, key: str, within_s: float = 600.0) -> dict[str, Any]:
    """POST one batch until it has an answer that is not worth waiting out; returns its receipt."""
    deadline, delay = time.monotonic() + within_s, 0.5
    while True:
        retry_after: str | None = None
        try:
            response = client.post(
                path, content=body, headers={"Content-Type": "text/csv; charset=utf-8", "Idempotency-Key": key}
            )
        except httpx.TransportError as exc:
            error = str(exc)
        else:
            if response.status_code == 201:
                receipt: dict[str, Any] = response.json()
                return receipt
            if response.status_code not in RETRIED:
                raise fail(f"batch refused: {response.status_code} {response.text}", code=1)
            error = f"{response.status_code} {response.text[:200]}"
            retry_after = response.headers.get("Retry-After")
        if time.monotonic() > deadline:
            raise fail(f"gave up on a batch after {within_s:.0f}s: {error}; run the command again to resume", code=1)
        time.sleep(float(retry_after) if retry_after and retry_after.isdigit() else delay)
        delay = min(delay * 2, 10.0)


def import_csv(
    agency: Annotated[str, typer.Argument(help="The agency code, e.g. civil_affairs")],
    dataset: Annotated[str, typer.Argument(help="The dataset, e.g. dibao")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV with a header row")],
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Records per request")] = 1000,
    charset: Annotated[str, typer.Option(help="The file's encoding, e.g. gb18030")] = "utf-8",
    state: Annotated[Path | None, typer.Option(help="Where progress is kept (default: FILE.import.json)")] = None,
    rejected: Annotated[
        Path | None, typer.Option(help="Where rejected records are listed (default: FILE.rejected.csv)")
    ] = None,
) -> None:
    """Push FILE.csv to the sharing service through the gateway in batches (key: RONGCHANG_API_KEY)."""
    settings = CliSettings()
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    header, rows = read_csv(file, charset)
    progress_file = state or file.with_name(file.name + ".import.json")
    rejected_file = rejected or file.with_name(file.name + ".rejected.csv")
    done = ImportState.load(progress_file, digest, batch_size)
    numbers = range((len(rows) + batch_size - 1) // batch_size)
    path = f"/sharing/v1/agencies/{agency}/datasets/{dataset}/records"
    headers = {"Authorization": f"Bearer {settings.key()}"}
    with (
        httpx.Client(base_url=settings.gateway_url, headers=headers, timeout=settings.timeout_s) as client,
        Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress,
    ):
        task = progress.add_task(f"{agency}/{dataset}", total=len(rows))
        progress.update(task, completed=sum(r["record_count"] for r in done.batches.values()))
        for number in numbers:
            if str(number) in done.batches:
                continue
            chunk = rows[number * batch_size : (number + 1) * batch_size]
            receipt = send(client, path, batch_body(header, chunk), f"import-{digest[:32]}-{batch_size}-{number}")
            done.record(
                number,
                {
                    "batch_id": receipt["batch_id"],
                    "record_count": receipt["record_count"],
                    "accepted": receipt["accepted"],
                    "rejected": receipt["rejected"],
                },
            )
            progress.update(task, advance=len(chunk))
    accepted = sum(r["accepted"] for r in done.batches.values())
    refused = write_rejected(rejected_file, header, rows, done)
    typer.echo(
        f"imported {file.name}: {len(rows)} records in {len(done.batches)} batches, "
        f"{accepted} accepted, {refused} rejected" + (f" (listed in {rejected_file})" if refused else "")
    )


def write_rejected(path: Path, header: list[str], rows: list[list[str]], state: ImportState) -> int:
    """One line per rejected record: its number in the file (1 is the first after the header), its
    errors, and the record itself."""
    found = []
    for number, receipt in sorted(state.batches.items(), key=lambda item: int(item[0])):
        for record in receipt["rejected"]:
            index = int(number) * state.batch_size + record["index"]
            errors = "; ".join(f"{e.get('field') or ''}: {e.get('message')}" for e in record["errors"])
            found.append([str(index + 1), errors, *rows[index]])
    if found:
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["record", "errors", *header])
            writer.writerows(found)
    elif path.exists():
        path.unlink()
    return len(found)
