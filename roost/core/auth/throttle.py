"""Brute-force protection for password logins: failures slow replies down, then lock out.

Attempts are counted per account (the record the identity resolved to, whichever identity
field named it), per identity as typed (trimmed and lower-cased, so case variants add up) and,
for failures, per client IP, in fixed windows kept in the app's counter store (memory, or Redis
shared by every instance). An attempt takes its slot with one atomic increment *before* its
password is checked, so a concurrent burst cannot slip past the limit while its failures are
still being verified; a correct password gives the slots back. Unknown identities are counted
exactly like existing ones (their account is the typed identity), and a locked-out login gets
the same "Failed to authenticate." answer after the same password-hash work, so neither the
reply nor its timing tells whether an account exists.

Settings live in Roost's own key ``roostAuth.loginThrottle``:
``enabled``, ``freeFailures`` (failures per identity before replies slow down),
``maxFailures`` (per identity, then locked until the window ends), ``maxFailuresPerIP``,
``window`` (seconds) and ``slowdownMs`` (the first delay; it doubles per failure, up to 4 s).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from roost.core.errors import BadRequest
from roost.core.records.password_policy import dummy_hash, password_policy, rehash_if_needed
from roost.core.settings_auth import default_login_throttle
from roost.tools.ratelimit import CounterStore
from roost.tools.security.passwords import verify_password

if TYPE_CHECKING:
    from roost.core.base import App
    from roost.core.schema.collection import Collection

MAX_DELAY = 4.0


def counters(app: App) -> CounterStore:
    """The app's window counters (rate limits and login throttling): Redis-backed when the app
    is configured with ``redis_url``, so that every instance counts together."""
    return app.counters


@dataclass(frozen=True)
class ThrottlePolicy:
    enabled: bool = True
    free_failures: int = 5
    max_failures: int = 10
    max_failures_per_ip: int = 100
    window: int = 900
    slowdown_ms: int = 250

    @classmethod
    def from_settings(cls, section: Any) -> ThrottlePolicy:
        if not isinstance(section, dict):
            return cls()
        base = default_login_throttle()
        values = {k: section.get(k, v) for k, v in base.items()}
        ints = {
            k: v if _is_int(v) and v >= 0 else base[k] for k, v in values.items() if k != "enabled"
        }
        return cls(
            enabled=bool(values["enabled"]),
            free_failures=ints["freeFailures"],
            max_failures=max(1, ints["maxFailures"]),
            max_failures_per_ip=max(1, ints["maxFailuresPerIP"]),
            window=max(1, ints["window"]),
            slowdown_ms=ints["slowdownMs"],
        )

    def delay_after(self, failures: int) -> float:
        """Seconds to hold the reply after the ``failures``-th failure in the window."""
        extra = failures - self.free_failures
        if extra <= 0 or self.slowdown_ms <= 0:
            return 0.0
        return float(min(MAX_DELAY, self.slowdown_ms / 1000 * 2 ** min(extra - 1, 16)))


class LoginThrottle:
    """Attempt bookkeeping for one login (one auth collection, account, identity and client IP)."""

    def __init__(self, app: App, collection_id: str, identity: str, ip: str, record_id: str = "") -> None:
        self.policy = ThrottlePolicy.from_settings(
            (app.settings.data.get("roostAuth") or {}).get("loginThrottle")
        )
        self.store = counters(app)
        digest = hashlib.sha256(identity.strip().lower().encode()).hexdigest()[:32]
        # the same two counters whether or not the identity exists: an unknown identity is its
        # own account, so the work (and the answers) do not depend on the account existing
        self.keys = (
            f"login:{collection_id}:id:{digest}",
            f"login:{collection_id}:rec:{record_id or '?' + digest}",
        )
        self.ip_key = f"login:{collection_id}:ip:{ip}" if ip else ""

    async def claim(self) -> bool:
        """Count this attempt before its password is checked; False once the account, the
        identity or the client IP has used up its failures."""
        if not self.policy.enabled:
            return True
        p = self.policy
        verdicts = [await self.store.hit(key, p.max_failures, p.window) for key in self.keys]
        if self.ip_key and not (await self.store.peek(self.ip_key, p.max_failures_per_ip, p.window)).allowed:
            return False
        return all(v.allowed for v in verdicts)

    async def failed(self) -> None:
        """Count a failure for the client IP and hold the reply for the slowdown it has earned
        (the account's count already holds this attempt)."""
        if not self.policy.enabled:
            return
        p = self.policy
        if self.ip_key:
            await self.store.hit(self.ip_key, p.max_failures_per_ip, p.window)
        remaining = min([(await self.store.peek(key, p.max_failures, p.window)).remaining for key in self.keys])
        delay = p.delay_after(p.max_failures - max(0, remaining))
        if delay:
            await asyncio.sleep(delay)

    async def succeeded(self) -> None:
        """A correct password clears the account's and the identity's counts (the IP's stay)."""
        if self.policy.enabled:
            for key in self.keys:
                await self.store.clear(key, self.policy.max_failures, self.policy.window)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


async def check_password(
    app: App, coll: Collection, record: dict[str, Any] | None, identity: str, password: str, ip: str
) -> dict[str, Any]:
    """The password step of a login: ``record`` is the account found for ``identity`` (or None).

    Returns the record on success. Every failure, whether the account is unknown, the password
    wrong or the identity locked out, raises the same "Failed to authenticate." after a
    password-hash check of the same cost, and counts towards the throttle.
    """
    throttle = LoginThrottle(app, coll.id, identity, ip, str(record["id"]) if record else "")
    allowed = await throttle.claim()
    stored = str(record.get("password", "")) if record else dummy_hash(password_policy(app).argon2)
    ok = await asyncio.to_thread(verify_password, password, stored)
    if record is None or not ok or not allowed:
        await throttle.failed()
        raise BadRequest("Failed to authenticate.")
    await throttle.succeeded()
    await rehash_if_needed(app, coll, record, password)
    return record
