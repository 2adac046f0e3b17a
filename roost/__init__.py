"""Roost: a backend in one Python package, compatible with the PocketBase SDKs."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
