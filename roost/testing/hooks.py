"""Which hooks fired, in order: the test helper behind a scenario table's expected hooks.

``HookRecorder(app)`` binds one recording handler to every named hook of ``app.hooks``, ahead of
every other handler, and lets each chain carry on::

    with HookRecorder(app) as hooks:
        await client.post("/api/collections/posts/records", json={...})
    assert hooks.names() == ["on_record_create_request", "on_record_create", ...]

After-success hooks run after the commit and realtime delivery runs in the background; wait for
it (``await app.realtime.drain()``) before asserting on the hooks it fires.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from roost.tools.hook import Event, Hook

#: ahead of every handler Roost or a test binds
RECORDER_PRIORITY = -(10**9)
RECORDER_ID = "roost.testing.recorder"


class HookRecorder:
    """Records ``(hook name, event)`` for every hook of ``app`` that fires, until :meth:`close`.

    Args:
        app: anything with a ``hooks`` attribute holding :class:`~roost.tools.hook.Hook` objects.
        only: record just these hook names (default: every named hook).
    """

    def __init__(self, app: Any, only: Iterable[str] | None = None) -> None:
        hooks: dict[str, Hook[Any]] = app.hooks.all()
        wanted = set(only) if only is not None else set(hooks)
        unknown = wanted - set(hooks)
        if unknown:
            raise ValueError(f"unknown hooks: {sorted(unknown)}")
        self.fired: list[tuple[str, Event]] = []
        self._bound = [hook for name, hook in hooks.items() if name in wanted]
        # an id of its own, so recorders may nest (a scenario run inside a recorded block)
        self._id = f"{RECORDER_ID}:{id(self)}"
        for hook in self._bound:
            hook.bind(self._recorder(hook.name), id=self._id, priority=RECORDER_PRIORITY)

    def _recorder(self, name: str) -> Any:
        async def record(event: Event) -> None:
            self.fired.append((name, event))
            await event.next()

        return record

    def names(self, *, collection: str | None = None) -> list[str]:
        """The hooks that fired, in order; with ``collection``, only events about that collection."""
        return [
            name for name, event in self.fired if collection is None or _concerns(event, collection)
        ]

    def count(self, name: str) -> int:
        return Counter(self.names())[name]

    def events(self, name: str) -> list[Event]:
        """The payloads ``name`` fired with, in order."""
        return [event for fired, event in self.fired if fired == name]

    def clear(self) -> None:
        self.fired.clear()

    def close(self) -> None:
        """Unbind the recording handlers (what was recorded stays)."""
        for hook in self._bound:
            hook.unbind(self._id)
        self._bound = []

    def __enter__(self) -> HookRecorder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _concerns(event: Event, collection: str) -> bool:
    return collection in event.hook_tags()


def missing_and_unexpected(
    recorded: list[str], expected: Iterable[str], unexpected: Iterable[str] = ()
) -> list[str]:
    """Problems with ``recorded`` for a scenario row: expected hooks that did not fire exactly as
    many times as listed (a name listed twice, or ``{"on_record_enrich": 2}``), and unexpected
    ones that fired; empty when the row holds."""
    have = Counter(recorded)
    want = Counter(expected)
    problems = [
        f"{name} fired {have[name]}x, expected {count}x"
        for name, count in want.items()
        if have[name] != count
    ]
    problems += [f"{name} fired but should not" for name in unexpected if have[name]]
    return problems
