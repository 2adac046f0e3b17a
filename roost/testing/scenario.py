"""API tests as tables: one :class:`ApiScenario` per row, run against a fresh test app.

A row names the request (method, url, auth, body), what the answer must be (status, substrings
that must and must not appear in the raw body) and which hooks must and must not fire. Strings in
the url, body and content columns may use ``$name`` placeholders, filled from what ``before``
returns (ids of records it created, say)::

    SCENARIOS = [
        ApiScenario("guest lists posts", "GET", "/api/collections/posts/records",
                    expected_content=['"totalItems":0']),
        ApiScenario("guest cannot create", "POST", "/api/collections/posts/records",
                    body={"title": "x"}, expected_status=400, unexpected_hooks=["on_record_after_create_success"]),
    ]

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
    async def test_posts(scenario: ApiScenario, api: TestApp) -> None:
        await scenario.run(api)
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from string import Template
from typing import Any

import httpx

from roost.testing.app import TestApp
from roost.testing.hooks import HookRecorder

#: the ``auth`` column: "" (guest), "superuser", a raw token, or a function returning a token
Auth = str | Callable[[TestApp], Awaitable[str]]
Before = Callable[[TestApp], Awaitable[Mapping[str, Any] | None]]
After = Callable[[TestApp, httpx.Response], Awaitable[None]]


def login_as(collection: str, identity: str, password: str) -> Callable[[TestApp], Awaitable[str]]:
    """An ``auth`` value: the token of a password login to an auth collection."""

    async def token(app: TestApp) -> str:
        return await app.login(collection, identity, password)

    return token


@dataclass
class ApiScenario:
    """One row of an API test table."""

    name: str
    method: str
    url: str
    auth: Auth = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    #: a JSON body
    body: Any = None
    #: form fields (urlencoded, or multipart with ``files``)
    form: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | None = None
    expected_status: int = 200
    #: substrings of the raw response body
    expected_content: Sequence[str] = ()
    not_expected_content: Sequence[str] = ()
    #: hooks that must fire: names (each at least once), or name -> exact count, in which case no
    #: other hook may fire (``{"*": 0}``: no hook at all); None: not checked
    expected_hooks: Sequence[str] | Mapping[str, int] | None = None
    #: hooks that must not fire
    unexpected_hooks: Sequence[str] = ()
    #: runs before the request; what it returns fills the ``$name`` placeholders
    before: Before | None = None
    #: runs after the checks, with the response
    after: After | None = None

    def __str__(self) -> str:
        return self.name

    async def run(self, app: TestApp) -> httpx.Response:
        """Send the request on ``app`` and check every column; returns the response."""
        values = dict(await self.before(app) or {}) if self.before is not None else {}
        headers = {k: _fill(v, values) for k, v in self.headers.items()}
        token = await self._token(app)
        if token:
            headers["Authorization"] = token
        request: dict[str, Any] = {"headers": headers}
        if self.body is not None:
            request["json"] = _fill(self.body, values)
        if self.form is not None:
            request["data"] = _fill(self.form, values)
        if self.files is not None:
            request["files"] = self.files
        with HookRecorder(app.app) as recorder:
            response = await app.client.request(self.method, _fill(self.url, values), **request)
        self._check(response, values, recorder)
        if self.after is not None:
            await self.after(app, response)
        return response

    async def _token(self, app: TestApp) -> str:
        if callable(self.auth):
            return await self.auth(app)
        return app.su_token if self.auth == "superuser" else self.auth

    def _check(
        self, response: httpx.Response, values: Mapping[str, Any], recorder: HookRecorder
    ) -> None:
        problems = []
        if response.status_code != self.expected_status:
            problems.append(f"status {response.status_code}, expected {self.expected_status}")
        text = response.text
        problems += [
            f"missing content {c!r}"
            for c in (_fill(c, values) for c in self.expected_content)
            if c not in text
        ]
        problems += [
            f"unexpected content {c!r}"
            for c in (_fill(c, values) for c in self.not_expected_content)
            if c in text
        ]
        problems += _hook_problems(self.expected_hooks, self.unexpected_hooks, recorder)
        if problems:
            raise AssertionError(
                f"scenario {self.name!r}: {'; '.join(problems)}\nbody: {text[:2000]}"
            )


def _hook_problems(
    expected: Sequence[str] | Mapping[str, int] | None,
    unexpected: Sequence[str],
    recorder: HookRecorder,
) -> list[str]:
    fired = collections.Counter(recorder.names())
    problems = [f"hook {name} fired" for name in unexpected if fired[name]]
    if expected is None:
        return problems
    if isinstance(expected, Mapping):
        wanted = {k: v for k, v in expected.items() if k != "*"}
        problems += [
            f"hook {n} fired {fired[n]} times, expected {c}"
            for n, c in wanted.items()
            if fired[n] != c
        ]
        problems += [f"hook {n} fired, not expected" for n in fired if n not in wanted]
        return problems
    return [*problems, *(f"hook {name} did not fire" for name in expected if not fired[name])]


def _fill(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` with ``$name`` placeholders in its strings filled from ``values``."""
    if not values:
        return value
    if isinstance(value, str):
        return Template(value).safe_substitute(values)
    if isinstance(value, Mapping):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(v, values) for v in value]
    return value
