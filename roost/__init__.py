"""Roost: a backend in one Python package, compatible with the PocketBase SDKs.

Typical use::

    from roost import Config, Roost

    Roost(Config(data_dir="./roost_data")).run()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.version import __version__

if TYPE_CHECKING:
    from roost.app import Plugin, Roost
    from roost.config import Config
    from roost.core.base import App
    from roost.core.errors import (
        BadRequest,
        Forbidden,
        NotFound,
        RoostError,
        Unauthorized,
        ValidationFailed,
    )
    from roost.core.events import RecordEvent, RequestInfo, ServeEvent
    from roost.core.hooks import Hook
    from roost.core.schema.collection import Collection

#: where each name of the public API lives; imported on first use, so that a process needing
#: one part of Roost (the worker supervisor of ``roost serve``) does not load all of it
_HOMES = {
    "Plugin": "roost.app",
    "Roost": "roost.app",
    "Config": "roost.config",
    "App": "roost.core.base",
    "BadRequest": "roost.core.errors",
    "Forbidden": "roost.core.errors",
    "NotFound": "roost.core.errors",
    "RoostError": "roost.core.errors",
    "Unauthorized": "roost.core.errors",
    "ValidationFailed": "roost.core.errors",
    "RecordEvent": "roost.core.events",
    "RequestInfo": "roost.core.events",
    "ServeEvent": "roost.core.events",
    "Hook": "roost.core.hooks",
    "Collection": "roost.core.schema.collection",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'roost' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "App",
    "BadRequest",
    "Collection",
    "Config",
    "Forbidden",
    "Hook",
    "NotFound",
    "Plugin",
    "RecordEvent",
    "RequestInfo",
    "Roost",
    "RoostError",
    "ServeEvent",
    "Unauthorized",
    "ValidationFailed",
    "__version__",
]
