"""`rongchang clients create|list|revoke`: API keys, through the gateway's admin API."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from contracts.vocabulary import Agency, Scope

from .settings import CliSettings, fail

app = typer.Typer(
    help="API clients and their keys (the gateway's admin API; needs the admin key).", no_args_is_help=True
)
PATH = "/gateway/v1/clients"


def _call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    settings = CliSettings()
    headers = {"Authorization": f"Bearer {settings.admin()}"}
    try:
        response = httpx.request(
            method, settings.gateway_url + path, headers=headers, timeout=settings.timeout_s, **kwargs
        )
    except httpx.HTTPError as exc:
        raise fail(f"the gateway at {settings.gateway_url} did not answer: {exc}", code=1) from exc
    if response.is_error:
        raise fail(f"{method} {path}: {response.status_code} {response.text}", code=1)
    return response


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. the agency system's name")],
    agency: Annotated[Agency, typer.Option(help="The agency the key acts for")],
    scope: Annotated[list[Scope], typer.Option("--scope", "-s", help="A scope; repeat for more")],
) -> None:
    """Issue a key. It is printed once, here, and stored only hashed."""
    body = {"name": name, "agency": agency.value, "scopes": [s.value for s in scope]}
    issued = _call("POST", PATH, json=body).json()
    typer.echo(f"client_id {issued['client_id']}", err=True)
    typer.echo(issued["api_key"])


@app.command("list")
def list_clients(
    agency: Annotated[Agency | None, typer.Option(help="Only this agency's clients")] = None,
    include_revoked: Annotated[bool, typer.Option(help="Revoked clients too")] = False,
) -> None:
    """List clients (never their keys), every page."""
    table = Table("client_id", "name", "agency", "scopes", "key prefix", "created", "revoked")
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 500, "include_revoked": str(include_revoked).lower()}
        if agency is not None:
            params["agency"] = agency.value
        if cursor:
            params["cursor"] = cursor
        page = _call("GET", PATH, params=params).json()
        for c in page["items"]:
            table.add_row(
                c["client_id"],
                c["name"],
                c["agency"],
                " ".join(c["scopes"]),
                c["key_prefix"],
                c["created_at"],
                c["revoked_at"] or "",
            )
        cursor = page.get("next_cursor")
        if not cursor:
            break
    Console(width=200).print(table)


@app.command()
def revoke(client_id: Annotated[str, typer.Argument(help="The client to revoke")]) -> None:
    """Revoke a key at once: the gateway refuses it from the next request."""
    _call("DELETE", f"{PATH}/{client_id}")
    typer.echo(f"revoked {client_id}")
