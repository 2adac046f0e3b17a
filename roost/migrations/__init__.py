"""System migrations, applied in order at start-up and recorded in ``_migrations``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

MigrationFn = Callable[[Any], Awaitable[None]]
