"""Run steps through the official JS SDK (``js/run.mjs``) and read back each step's outcome."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import ServiceUnavailable

JS_DIR = Path(__file__).resolve().parent / "js"
RUNNER = JS_DIR / "run.mjs"


def ensure_node_modules() -> str:
    """Return the node binary, installing the pinned SDK with ``npm ci`` when it is missing."""
    node = shutil.which("node")
    if not node:
        raise ServiceUnavailable("node is not installed")
    if (JS_DIR / "node_modules" / "pocketbase" / "package.json").exists():
        return node
    npm = shutil.which("npm")
    if not npm:
        raise ServiceUnavailable("npm is not installed (needed for npm ci in tests/e2e/js)")
    with (JS_DIR / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers race for the same node_modules
        if not (JS_DIR / "node_modules" / "pocketbase" / "package.json").exists():
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=JS_DIR, capture_output=True, text=True, timeout=300,
            )
            if result.returncode != 0:
                raise ServiceUnavailable(f"npm ci failed: {result.stderr.strip()[-300:]}")
    return node


@dataclass
class StepResult:
    name: str
    raw: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.raw.get("ok"))

    @property
    def value(self) -> Any:
        assert self.ok, f"step {self.name!r} failed: {json.dumps(self.raw, indent=1)[:2000]}"
        return self.raw["value"]

    @property
    def status(self) -> int | None:
        assert not self.ok, f"step {self.name!r} unexpectedly succeeded: {self.raw.get('value')!r}"
        return self.raw.get("status")

    @property
    def response(self) -> dict[str, Any]:
        assert not self.ok, f"step {self.name!r} unexpectedly succeeded: {self.raw.get('value')!r}"
        assert self.raw.get("status") is not None, f"step {self.name!r} crashed: {self.raw}"
        return dict(self.raw.get("response") or {})

    def error_codes(self) -> dict[str, str]:
        """``{field: validation code}`` from a 400 response's ``data``."""
        data = self.response.get("data") or {}
        return {key: value.get("code") for key, value in data.items() if isinstance(value, dict)}


class SdkRun(Mapping[str, StepResult]):
    def __init__(self, results: list[StepResult]) -> None:
        self._by_name = {result.name: result for result in results}
        self.results = results

    def __getitem__(self, name: str) -> StepResult:
        return self._by_name[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)


def js(value: Any) -> str:
    """A Python value as a JS literal (JSON is valid JS)."""
    return json.dumps(value)


def superuser_login(server: Any, client: str = "default") -> dict[str, str]:
    """The step that signs client ``client`` in as the launcher's superuser."""
    return step(
        f"superuser login ({client})",
        f"client({js(client)}).collection('_superusers')"
        f".authWithPassword({js(server.superuser_email)}, {js(server.superuser_password)})",
    )


def step(name: str, expr: str, save: str | None = None) -> dict[str, str]:
    """One SDK call, e.g. ``step("create", "pb.collection('posts').create({title: 'a'})")``."""
    item = {"name": name, "expr": expr}
    if save:
        item["save"] = save
    return item


def code(name: str, body: str, save: str | None = None) -> dict[str, str]:
    """A step written as an async function body (use ``return``)."""
    item = {"name": name, "code": body}
    if save:
        item["save"] = save
    return item


class SdkDriver:
    def __init__(self, node: str) -> None:
        self.node = node

    def run(self, base_url: str, steps: Iterable[Mapping[str, Any]], timeout: float = 60) -> SdkRun:
        payload = json.dumps(list(steps))
        result = subprocess.run(
            [self.node, str(RUNNER), base_url, "-"],
            input=payload, cwd=JS_DIR, capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"SDK runner crashed ({result.returncode}): {result.stderr[-2000:]}")
        outcomes = json.loads(result.stdout)
        names = [outcome["name"] for outcome in outcomes]
        assert len(names) == len(set(names)), f"duplicate step names: {names}"
        return SdkRun([StepResult(outcome["name"], outcome) for outcome in outcomes])
