"""Transport-neutral request data and hook payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roost.core.collections import Collection


@dataclass
class RequestInfo:
    """What core needs to know about the caller, whatever transport it came through.

    ``auth`` holds the authenticated record's stored values (``None`` for a guest) and
    ``auth_collection`` its collection. ``headers`` keys are lower-case snake_case
    (``X-Token`` -> ``x_token``) as the rule language addresses them.
    """

    auth: dict[str, Any] | None = None
    auth_collection: Collection | None = None
    method: str = "GET"
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    context: str = "default"
    ip: str = ""
    #: the ``_authSessions`` id when the caller authenticated with a session cookie
    session_id: str = ""

    @property
    def is_superuser(self) -> bool:
        return self.auth_collection is not None and self.auth_collection.name == "_superusers"

    @property
    def auth_id(self) -> str:
        return str(self.auth.get("id", "")) if self.auth else ""


@dataclass
class RecordEvent:
    """A committed record change, published after the transaction commits.

    ``record`` holds the stored values (after the change; for a delete, the deleted values).
    ``info`` describes the request that caused it (None for cascades and internal writes).
    """

    action: str  # "create" | "update" | "delete"
    collection: Collection
    record: dict[str, Any]
    info: RequestInfo | None = None
