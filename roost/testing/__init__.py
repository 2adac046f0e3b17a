"""Helpers for testing a Roost app (and the plugins and hooks it runs) from pytest or any runner.

``make_test_app`` starts a fresh app on a temporary data dir with a superuser; ``TestApp`` is
its in-process client; ``ApiScenario`` is one row of an API test table, hooks included.
"""

from __future__ import annotations

from roost.testing.app import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, TestApp, make_test_app
from roost.testing.databases import BACKENDS, ServiceUnavailable
from roost.testing.hooks import HookRecorder
from roost.testing.scenario import ApiScenario, login_as

__all__ = [
    "BACKENDS",
    "SUPERUSER_EMAIL",
    "SUPERUSER_PASSWORD",
    "ApiScenario",
    "HookRecorder",
    "ServiceUnavailable",
    "TestApp",
    "login_as",
    "make_test_app",
]
