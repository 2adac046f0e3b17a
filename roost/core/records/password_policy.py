"""The password policy: which hash new passwords get, read from Roost's own settings key.

The key is ``roostAuth`` (PocketBase has no such key, so its own keys keep their meaning):

``roostAuth.passwordHash``
    ``algorithm``: ``"bcrypt"`` (default, PocketBase-compatible hashes) or ``"argon2id"``;
    ``argon2TimeCost``, ``argon2MemoryCost`` (KiB) and ``argon2Parallelism`` tune argon2id.
    The bcrypt cost stays the password field's own ``cost`` option, as in PocketBase.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.core.db.facade import quote_ident
from roost.tools.security.passwords import DEFAULT_COST, Argon2Params, hash_password, needs_rehash

if TYPE_CHECKING:
    from roost.core.base import App
    from roost.core.schema.collection import Collection


@dataclass(frozen=True)
class PasswordPolicy:
    """``argon2`` is None for bcrypt; otherwise the argon2id parameters to hash with."""

    argon2: Argon2Params | None = None

    def hash(self, plain: str, bcrypt_cost: int = 0) -> str:
        return hash_password(plain, bcrypt_cost, self.argon2)

    def needs_rehash(self, hashed: str, bcrypt_cost: int = 0) -> bool:
        return needs_rehash(hashed, bcrypt_cost, self.argon2)


def policy_from_settings(section: Any) -> PasswordPolicy:
    """The policy a ``roostAuth.passwordHash`` section describes (invalid parts fall back)."""
    if not isinstance(section, dict) or section.get("algorithm") != "argon2id":
        return PasswordPolicy()
    base = Argon2Params()
    return PasswordPolicy(
        Argon2Params(
            time_cost=_positive(section.get("argon2TimeCost"), base.time_cost),
            memory_cost=_positive(section.get("argon2MemoryCost"), base.memory_cost),
            parallelism=_positive(section.get("argon2Parallelism"), base.parallelism),
        )
    )


def password_policy(app: App) -> PasswordPolicy:
    """The policy in force for ``app`` now."""
    return policy_from_settings((app.settings.data.get("roostAuth") or {}).get("passwordHash"))


def _positive(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


@functools.cache
def dummy_hash(argon2: Argon2Params | None) -> str:
    """A real hash of the policy's kind, checked for unknown identities so they cost the same time."""
    return hash_password("roost-no-such-identity", DEFAULT_COST, argon2)


async def rehash_if_needed(app: App, coll: Collection, record: dict[str, Any], plain: str) -> None:
    """Store a fresh hash of ``plain`` when the stored one is not what the policy makes now.

    Called after a successful login only. The tokenKey stays as it is (the password did not
    change), and the update is conditional on the old hash so a concurrent change wins.
    """
    field = coll.get_field("password")
    stored = str(record.get("password", ""))
    if field is None or not stored:
        return
    cost = int(getattr(field, "cost", 0) or 0)
    policy = password_policy(app)
    if not policy.needs_rehash(stored, cost):
        return
    fresh = await asyncio.to_thread(policy.hash, plain, cost)
    table = quote_ident(coll.table, app.dialect)
    async with app.db.transaction() as conn:
        await conn.execute(
            f'UPDATE {table} SET "password" = :new WHERE "id" = :id AND "password" = :old',
            {"new": fresh, "id": record["id"], "old": stored},
        )
    record["password"] = fresh
