"""Roost: a backend in one Python package, compatible with the PocketBase SDKs.

Typical use::

    from roost import Config, Roost

    Roost(Config(data_dir="./roost_data")).run()
"""

from __future__ import annotations

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
from roost.version import __version__

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
