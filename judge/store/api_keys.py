"""API keys: created once (the plain key is shown then and never again), stored as SHA-256, checked in
constant time, scoped to one tenant."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel import Session, col, select

from judge.core.errors import InputError, NotFoundError
from judge.store.records import ApiKeyRecord
from judge.store.tables import ApiKey, utcnow

KEY_PREFIX = "jk_"
SHOWN_CHARS = 8


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a plain API key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _record(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord.model_validate(row, from_attributes=True)


def create_key(session: Session, *, tenant: str, name: str = "default") -> tuple[ApiKeyRecord, str]:
    """A new key for ``tenant``: its record and the plain key (return it to the user once)."""
    if not tenant.strip():
        raise InputError("a tenant name cannot be empty", field="--tenant")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(tenant=tenant, name=name, key_hash=hash_key(plain), prefix=plain[:SHOWN_CHARS])
    session.add(row)
    session.flush()
    return _record(row), plain


def authenticate(session: Session, key: str) -> str | None:
    """The tenant of a valid, unrevoked ``key``, else None.

    The row is found by the key's hash (an index lookup reveals nothing about the key itself) and the
    digests are compared with :func:`hmac.compare_digest`.
    """
    digest = hash_key(key)
    row = session.exec(select(ApiKey).where(col(ApiKey.key_hash) == digest)).first()
    if row is None or row.revoked_at is not None:
        return None
    return row.tenant if hmac.compare_digest(row.key_hash, digest) else None


def list_keys(session: Session, *, tenant: str | None = None) -> list[ApiKeyRecord]:
    """Every key (of ``tenant`` when given), oldest first."""
    stmt = select(ApiKey).order_by(col(ApiKey.id))
    if tenant is not None:
        stmt = stmt.where(col(ApiKey.tenant) == tenant)
    return [_record(r) for r in session.exec(stmt)]


def revoke_key(session: Session, *, key_id: int) -> ApiKeyRecord:
    """Revoke key ``key_id``: it stops authenticating at once; the row stays for the record."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"no API key {key_id}")
    row.revoked_at = row.revoked_at or utcnow()
    session.add(row)
    return _record(row)
