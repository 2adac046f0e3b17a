"""Roost: a backend in one Python package, compatible with the PocketBase SDKs.

Typical use::

    from roost import Config, Roost

    Roost(Config(data_dir="./roost_data")).run()
"""

from __future__ import annotations

from roost.app import Roost
from roost.config import Config
from roost.core.app import App
from roost.core.collections import Collection
from roost.core.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    RoostError,
    Unauthorized,
    ValidationFailed,
)
from roost.core.events import RecordEvent, RequestInfo
from roost.core.hooks import Hook

__version__ = "0.1.0"

__all__ = [
    "App",
    "BadRequest",
    "Collection",
    "Config",
    "Forbidden",
    "Hook",
    "NotFound",
    "RecordEvent",
    "RequestInfo",
    "Roost",
    "RoostError",
    "Unauthorized",
    "ValidationFailed",
    "__version__",
]
