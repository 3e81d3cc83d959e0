"""``judge serve`` (the HTTP API), ``judge keys ...`` (its API keys) and ``judge report`` (the HTML run report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from judge.cli.app import app, console, reports_errors
from judge.core.errors import require_extra
from judge.core.protocols.order_rules import OrderRule
from judge.store import DEFAULT_TENANT, open_store, session_scope

keys_app = typer.Typer(help="API keys of the HTTP API (one tenant each; stored hashed).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command("serve")
@reports_errors
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default JUDGE_API_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default JUDGE_API_PORT, 8000).")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs); runs execute in this process."""
    require_extra("api", "fastapi", "uvicorn")
    import uvicorn

    from judge.api import create_app
    from judge.settings import Settings

    settings = Settings().api
    uvicorn.run(create_app(api_settings=settings), host=host or settings.host, port=port or settings.port)


@keys_app.command("create")
@reports_errors
def keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant this key acts for.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    from judge.store.api_keys import create_key

    with session_scope(open_store()) as session:
        row, plain = create_key(session, tenant=tenant, name=name)
    console.print(f"key {row.id} for tenant {tenant!r} (shown once, store it now):", highlight=False)
    console.print(plain, highlight=False, markup=False, soft_wrap=True)


@keys_app.command("list")
@reports_errors
def keys_list(tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None) -> None:
    """Every key: id, tenant, name, prefix, created, revoked (never the key itself)."""
    from judge.store.api_keys import list_keys

    with session_scope(open_store()) as session:
        rows = list_keys(session, tenant=tenant)
    table = Table(title="API keys")
    for column in ("id", "tenant", "name", "prefix", "created", "revoked"):
        table.add_column(column)
    for r in rows:
        revoked = r.revoked_at.strftime("%Y-%m-%d %H:%M") if r.revoked_at else ""
        table.add_row(str(r.id), r.tenant, r.name, r.prefix, r.created_at.strftime("%Y-%m-%d %H:%M"), revoked)
    console.print(table)


@keys_app.command("revoke")
@reports_errors
def keys_revoke(key_id: int) -> None:
    """Revoke a key by id: it stops working at once."""
    from judge.store.api_keys import revoke_key

    with session_scope(open_store()) as session:
        row = revoke_key(session, key_id=key_id)
    console.print(f"key {row.id} ({row.prefix}…) of tenant {row.tenant!r} revoked", highlight=False)


@app.command("report")
@reports_errors
def report(
    run_id: Annotated[int, typer.Option("--run", help="The run to report on.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML page.")] = Path("report.html"),
    grader: Annotated[str | None, typer.Option(help="Whose correctness verdicts to use (default: any).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap rounds for the rating CIs.")] = 200,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    tenant: Annotated[str, typer.Option(help="The run's tenant.")] = DEFAULT_TENANT,
    order_rule: Annotated[
        OrderRule, typer.Option("--order-rule", help="How a judge's two orders combine: agree, sum or separate.")
    ] = OrderRule.AGREE,
) -> None:
    """One self-contained HTML page: leaderboards with CIs, win-rate heatmap, agreement, audit examples."""
    from judge.report import write_report

    with session_scope(open_store()) as session:
        path = write_report(
            session, run_id, out, tenant=tenant, grader=grader, bootstrap=bootstrap, seed=seed, order_rule=order_rule
        )
    console.print(str(path), highlight=False, soft_wrap=True)
