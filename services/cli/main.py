"""The `rongchang` console script (pyproject's [project.scripts])."""

from __future__ import annotations

import typer

from . import clients, dlq, importing, projection, purge

app = typer.Typer(
    name="rongchang",
    help="The operator's command line of the Rongchang employment platform (README: Operating it).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(clients.app, name="clients")
app.add_typer(dlq.app, name="dlq")
app.add_typer(projection.app, name="projection")
app.command("import")(importing.import_csv)
app.add_typer(purge.outbox_app, name="outbox")
app.add_typer(purge.inbox_app, name="inbox")

if __name__ == "__main__":
    app()
