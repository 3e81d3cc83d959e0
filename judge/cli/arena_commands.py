"""``judge arena invite/revoke/voters/configure``: the private arena's voters and settings."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from judge.cli.app import app, console, reports_errors
from judge.store import DEFAULT_TENANT, open_store, session_scope

arena_app = typer.Typer(help="The private arena: invite voters to a prompt set, revoke them, list them.")
app.add_typer(arena_app, name="arena", no_args_is_help=True)

SetOption = Annotated[str, typer.Option("--set", help="The prompt set of the arena.")]
TenantOption = Annotated[str, typer.Option(help="The set's tenant.")]


@arena_app.command("invite")
@reports_errors
def invite(
    set_name: SetOption,
    voter: Annotated[str, typer.Option(help="The voter's name (their votes are stored under it).")],
    expires: Annotated[
        str | None, typer.Option(help="Lifetime of the invitation, e.g. 7d, 12h (default: none).")
    ] = None,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Invite a voter: prints the invitation URL (last line), which carries a token for this set's arena only."""
    from judge.arena import service
    from judge.arena.tokens import parse_duration
    from judge.settings import Settings
    from judge.store.queries import get_set

    lifetime = parse_duration(expires) if expires else None
    with session_scope(open_store()) as session:
        prompt_set = get_set(session, name=set_name, tenant=tenant)
        invitation = service.invite(
            session, prompt_set=prompt_set, voter=voter, expires=lifetime, base_url=Settings().arena.public_url
        )
    until = f", expires {invitation.expires_at:%Y-%m-%d %H:%M} UTC" if invitation.expires_at else ""
    console.print(
        f"invited {invitation.voter!r} to the arena of {set_name!r} (invitation {invitation.id}{until}); "
        "the link is shown once:",
        highlight=False,
        markup=False,
    )
    console.print(invitation.url, highlight=False, markup=False, soft_wrap=True)


@arena_app.command("revoke")
@reports_errors
def revoke(
    set_name: SetOption,
    voter: Annotated[str, typer.Option(help="The voter whose invitations stop working.")],
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Revoke every invitation of a voter to this set: their links stop working at once (votes stay)."""
    from judge.store.arena import revoke_voter
    from judge.store.queries import get_set

    with session_scope(open_store()) as session:
        prompt_set = get_set(session, name=set_name, tenant=tenant)
        assert prompt_set.id is not None
        rows = revoke_voter(session, set_id=prompt_set.id, voter=voter)
    console.print(f"revoked {len(rows)} invitation(s) of {voter!r} to {set_name!r}", highlight=False, markup=False)


@arena_app.command("voters")
@reports_errors
def voters(set_name: SetOption, tenant: TenantOption = DEFAULT_TENANT) -> None:
    """The set's invitations: id, voter, token prefix, status, votes, created, expires."""
    from judge.arena import service
    from judge.store.queries import get_set

    with session_scope(open_store()) as session:
        rows = service.voters(session, prompt_set=get_set(session, name=set_name, tenant=tenant))
    table = Table(title=f"arena voters of {set_name}")
    for column in ("id", "voter", "token", "status", "votes", "created", "expires"):
        table.add_column(column)
    for r in rows:
        expires = r.expires_at.strftime("%Y-%m-%d %H:%M") if r.expires_at else ""
        table.add_row(
            str(r.id), r.voter, r.prefix + "…", r.status, str(r.votes), r.created_at.strftime("%Y-%m-%d %H:%M"), expires
        )
    console.print(table)


@arena_app.command("configure")
@reports_errors
def configure(
    set_name: SetOption,
    selection: Annotated[str | None, typer.Option(help="Pair selection: active or uniform.")] = None,
    live_model: Annotated[
        list[str] | None,
        typer.Option(help="A model that answers voters' own prompts (repeat; at least two turn live prompts on)."),
    ] = None,
    api_base: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint of the live models.")] = None,
    max_cost: Annotated[float | None, typer.Option(help="Budget in USD for live answers.")] = None,
    no_live: Annotated[bool, typer.Option("--no-live", help="Turn live prompts off.")] = False,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Set the arena's pair selection and live-prompt models."""
    from judge.arena.selection import check_strategy
    from judge.core.errors import InputError
    from judge.store.arena import get_config, save_config
    from judge.store.queries import get_set

    with session_scope(open_store()) as session:
        prompt_set = get_set(session, name=set_name, tenant=tenant)
        assert prompt_set.id is not None
        changes: dict[str, Any] = {}
        if selection is not None:
            changes["selection"] = check_strategy(selection)
        if live_model:
            if len(set(live_model)) < 2:
                raise InputError("live prompts need at least two different models", field="--live-model")
            changes["live_models"] = [{"model": m, "api_base": api_base} for m in dict.fromkeys(live_model)]
        if no_live:
            changes["live_models"] = None
        if max_cost is not None:
            changes["max_cost_usd"] = max_cost
        config = save_config(session, get_config(session, set_id=prompt_set.id).model_copy(update=changes))
    live = ", ".join(m["model"] for m in config.live_models or []) or "off"
    console.print(f"arena {set_name!r}: selection {config.selection}, live prompts: {live}", highlight=False)
