"""PocketBase's ``superuserIPs`` allowlist: superusers act only from the listed IPs and subnets.

An empty list allows every address. Otherwise a superuser login from another address, and any
request authenticated as a superuser from one, answer 403; a superuser's file token from one
counts as no token (protected files then follow the view rule, as for a guest). The address is
the request's real IP (``RequestInfo.ip``), resolved through the ``trustedProxy`` settings.
Saving a list that leaves out the saver's own address is accepted, as PocketBase accepts it;
``roost superuser ips`` resets the list from the command line after a lockout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.core.errors import Forbidden
from roost.core.schema.collection import Collection
from roost.tools.ratelimit.rules import excluded as ip_in_list

if TYPE_CHECKING:
    from roost.core.base import App

#: PocketBase answers with its generic forbidden message (``e.ForbiddenError("", ...)``)
DENIED = "You are not allowed to perform this request."
SUPERUSERS = "_superusers"


def allowed_ips(app: App) -> list[str]:
    ips = app.settings.data.get("superuserIPs") or []
    return [str(ip) for ip in ips] if isinstance(ips, list) else []


def superuser_ip_allowed(app: App, ip: str) -> bool:
    """True when superusers may act from ``ip`` (always, while the list is empty)."""
    ips = allowed_ips(app)
    return not ips or (bool(ip) and ip_in_list(ip, ips))


def check_superuser_ip(app: App, collection: Collection | None, ip: str) -> None:
    """403 when ``collection`` is ``_superusers`` (the caller's, or the one logged into) and
    ``ip`` is not on the list."""
    if collection is not None and collection.name == SUPERUSERS and not superuser_ip_allowed(app, ip):
        raise Forbidden(DENIED)


