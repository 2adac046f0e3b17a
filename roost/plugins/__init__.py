"""Optional features that ship with Roost, each built only on the public seams (hooks, jobs,
routes, the record services) and independent of the others.

:func:`builtin_plugins` lists the ones every ``Roost`` registers before the caller's own
(``Roost(builtins=False)`` leaves them out). Each plugin is an object with ``register(app)``.
"""

from __future__ import annotations

from typing import Any

from roost.plugins.hooks_dir import HooksDir
from roost.plugins.migratecmd import MigrateCmd
from roost.plugins.public_dir import PublicDir
from roost.plugins.webhooks import Webhooks


def builtin_plugins() -> list[Any]:
    """A fresh instance of every built-in plugin, in registration order."""
    return [HooksDir(), MigrateCmd(), Webhooks(), PublicDir()]
