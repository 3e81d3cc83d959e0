"""Verdict leases: a verdict key is claimed before its judge call, so one call is paid per key.

A lease row (``verdict_lease``) names the key, its ``owner`` (``host:pid:uuid`` of one executor: a CLI run, an
API run, one Celery task) and ``expires_at`` (unix seconds). Claiming is one ``INSERT .. ON CONFLICT DO UPDATE
.. WHERE expired or mine`` per key, in key order, in one transaction: on SQLite the transaction holds the
database's write lock, on PostgreSQL the conflicting row's lock, so of several claimers exactly one gets a key.
In the same transaction the claimer reads which of its keys already have a final verdict and drops those
leases: a key with a final verdict is never called, since its writer releases the lease only in the transaction
that stores the verdict. An owner renews its leases while its calls are in flight (:func:`renew_leases`) and
deletes them with the verdicts (:func:`release_leases`).

A lease whose owner died expires after its TTL and is retaken then; an owner on this host whose process is gone
(``kill -9``) is recognised at once (``/proc``/``kill(pid, 0)``) and its leases are taken over by compare-and-set
on the owner. Hosts must agree on the time within a small part of the TTL (NTP).
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Float, Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col

from judge.core.types import Frozen, VerdictStatus
from judge.store.tables import Verdict, VerdictLease

LEASE_TABLE: Table = VerdictLease.__table__  # type: ignore[attr-defined]
CHUNK = 500
FINAL = (VerdictStatus.OK.value, VerdictStatus.UNPARSEABLE.value)  # as judge.store.verdicts.FINAL_STATUSES


class Claim(Frozen):
    """What one claim got: keys now leased to the claimer (call them), keys that already have a final verdict
    (never call them), and keys leased to another live owner (wait for them)."""

    granted: tuple[str, ...]
    final: tuple[str, ...]
    held: tuple[str, ...]


def new_owner() -> str:
    """A fresh owner id for one executor: ``host:pid:uuid``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` is a process of this host that no longer runs (killed, crashed); False when it runs,
    belongs to another host, or cannot be told (then only its lease's expiry frees its keys)."""
    host, pid_text, _ = [*owner.rsplit(":", 2), "", ""][:3]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another executor of this very process: alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


@functools.lru_cache(maxsize=4)
def _claim_statement(dialect: str) -> Any:
    """``INSERT .. ON CONFLICT (verdict_key) DO UPDATE .. WHERE expired or mine``, built once per dialect
    (building the ``excluded`` alias costs more than running it); ``:now`` is a bound parameter."""
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"unsupported database dialect {dialect!r} (use SQLite or PostgreSQL)")
    table = LEASE_TABLE
    insert: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    excluded = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["verdict_key"],
        set_={"owner": excluded.owner, "run_id": excluded.run_id, "expires_at": excluded.expires_at},
        where=(table.c.expires_at < bindparam("now", type_=Float())) | (table.c.owner == excluded.owner),
    )


def claim_keys(
    session: Session, *, keys: Iterable[str], owner: str, run_id: int | None, ttl_s: float, now: float
) -> Claim:
    """Lease ``keys`` to ``owner`` until ``now + ttl_s`` where they are free, expired, already ``owner``'s or
    held by a dead process of this host; then drop the leases of those that have a final verdict. Atomic: run
    it in its own transaction (the caller commits)."""
    wanted = sorted(set(keys))
    if not wanted:
        return Claim(granted=(), final=(), held=())
    stmt = _claim_statement(session.get_bind().dialect.name)
    expires = now + ttl_s
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = [{"verdict_key": k, "owner": owner, "run_id": run_id, "expires_at": expires, "now": now} for k in chunk]
        session.execute(stmt, rows)
    holders = lease_holders(session, wanted)
    for other in sorted({o for o in holders.values() if o != owner}):
        if owner_is_dead(other):
            theirs = [k for k, o in holders.items() if o == other]
            taken = _take_over(session, theirs, dead=other, owner=owner, expires=expires)
            holders.update(dict.fromkeys(taken, owner))
    mine = [k for k in wanted if holders.get(k) == owner]
    final = _final_keys(session, mine)
    if final:
        release_leases(session, owner=owner, keys=final)
    return Claim(
        granted=tuple(k for k in mine if k not in final),
        final=tuple(sorted(final)),
        held=tuple(k for k in wanted if holders.get(k) != owner),
    )


def _take_over(session: Session, keys: Sequence[str], *, dead: str, owner: str, expires: float) -> list[str]:
    """Compare-and-set the leases of a dead owner to ``owner``; the keys this call took."""
    taken: list[str] = []
    for start in range(0, len(keys), CHUNK):
        chunk = list(keys[start : start + CHUNK])
        stmt = (
            update(LEASE_TABLE)
            .where(LEASE_TABLE.c.verdict_key.in_(chunk), LEASE_TABLE.c.owner == dead)
            .values(owner=owner, expires_at=expires)
        )
        session.execute(stmt)
    now_held = lease_holders(session, keys)
    taken.extend(k for k in keys if now_held.get(k) == owner)
    return taken


def _final_keys(session: Session, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        query = select(col(Verdict.verdict_key)).where(
            col(Verdict.verdict_key).in_(keys[start : start + CHUNK]), col(Verdict.status).in_(FINAL)
        )
        found.update(str(k) for k in session.execute(query).scalars())
    return found


def lease_holders(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """The owner of each of ``keys`` that has a lease row (expired or not)."""
    key_list = list(keys)
    found: dict[str, str] = {}
    for start in range(0, len(key_list), CHUNK):
        chunk = key_list[start : start + CHUNK]
        query = select(LEASE_TABLE.c.verdict_key, LEASE_TABLE.c.owner).where(LEASE_TABLE.c.verdict_key.in_(chunk))
        found.update({str(k): str(o) for k, o in session.execute(query)})
    return found


def renew_leases(session: Session, *, owner: str, ttl_s: float, now: float) -> int:
    """Push back the expiry of every lease ``owner`` holds (its heartbeat); how many it still holds."""
    stmt = update(LEASE_TABLE).where(LEASE_TABLE.c.owner == owner).values(expires_at=now + ttl_s)
    return int(cast(CursorResult[Any], session.execute(stmt)).rowcount or 0)


def release_leases(session: Session, *, owner: str | None, keys: Iterable[str] | None = None) -> None:
    """Delete ``owner``'s leases on ``keys`` (all of its leases when ``keys`` is None; anyone's leases on
    ``keys`` when ``owner`` is None)."""
    if keys is None:
        if owner is None:
            raise ValueError("release_leases needs an owner or keys")
        session.execute(delete(LEASE_TABLE).where(LEASE_TABLE.c.owner == owner))
        return
    key_list = sorted(set(keys))
    for start in range(0, len(key_list), CHUNK):
        stmt = delete(LEASE_TABLE).where(LEASE_TABLE.c.verdict_key.in_(key_list[start : start + CHUNK]))
        if owner is not None:
            stmt = stmt.where(LEASE_TABLE.c.owner == owner)
        session.execute(stmt)
