"""Hooks: an ordered chain of handlers that one event runs through.

Each handler receives the event and continues the chain with ``await event.next()``; the last
link is the action the hook guards (saving a record, sending a mail ...). A handler that returns
without calling ``next()`` ends the chain quietly and the action does not happen; one that raises
ends it with that error. Work placed after ``await event.next()`` runs once the rest of the chain,
the action included, has finished.

Handlers run by ``priority`` (lower first), then in the order they were bound. A handler bound
with tags runs only for events whose :meth:`Event.hook_tags` share one of them; the others pass
straight through it. Both ``async def`` and plain functions are accepted: a plain function
continues the chain by returning ``event.next()``.

A hook with no handlers costs one attribute check before its action runs, which is why core can
trigger hooks on its hot paths. While tracing is on (:mod:`roost.tools.tracing`), each handler
that runs gets a span of its own; an unused hook still costs nothing more.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from roost.tools import tracing

__all__ = ["Event", "Handler", "HandlerFunc", "Hook", "TaggedHook"]


class Event:
    """The base of every hook payload: carries the link that continues the chain."""

    _next: Callable[[], Awaitable[None]] | None = None

    def next(self) -> Awaitable[None]:
        """Run the rest of the chain (the remaining handlers, then the guarded action): ``await e.next()``."""
        link = self._next
        return _DONE if link is None else link()

    def hook_tags(self) -> tuple[str, ...]:
        """What tagged handlers match against (a collection's id and name, for record events)."""
        return ()


class _Done:
    """An awaitable that is already done (the end of a chain); awaiting it again is fine."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield


_DONE = _Done()
E = TypeVar("E", bound=Event)
#: an ``async def handler(e)`` or a plain ``def handler(e)`` (which may ``return e.next()``)
HandlerFunc = Callable[[E], Awaitable[None] | None]
_ids = itertools.count(1)


@dataclass(frozen=True)
class Handler(Generic[E]):
    """One bound handler."""

    func: HandlerFunc[E]
    id: str
    priority: int = 0
    tags: frozenset[str] = frozenset()


class Hook(Generic[E]):
    """Handlers for one named event, chained with ``next()``."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        #: the bound handlers in the order they run (read it; change it through bind/unbind).
        #: Core tests its truthiness before building an event nobody would see.
        self.handlers: tuple[Handler[E], ...] = ()
        self._tagged = False

    def __len__(self) -> int:
        return len(self.handlers)

    def __repr__(self) -> str:
        return f"<Hook {self.name} handlers={len(self.handlers)}>"

    def bind(
        self,
        func: HandlerFunc[E],
        *,
        id: str | None = None,
        priority: int = 0,
        tags: Iterable[str] = (),
    ) -> str:
        """Add ``func`` to the chain and return its id (give ``id`` to replace a handler bound under it).

        Args:
            func: the handler; it continues the chain with ``await e.next()``.
            id: a stable id for :meth:`unbind`; a handler already bound under it is replaced in place.
            priority: lower runs earlier; equal priorities run in binding order.
            tags: run only for events tagged with one of these (collection names or ids).
        """
        handler = Handler(func, id or f"h{next(_ids)}", priority, frozenset(tags))
        current = list(self.handlers)
        for index, existing in enumerate(current):
            if existing.id == handler.id:
                current[index] = handler
                break
        else:
            current.append(handler)
        self._set(current)
        return handler.id

    def handle(
        self, *, id: str | None = None, priority: int = 0, tags: Iterable[str] = ()
    ) -> Callable[[HandlerFunc[E]], HandlerFunc[E]]:
        """Decorator form of :meth:`bind` that returns the function unchanged."""

        def decorator(func: HandlerFunc[E]) -> HandlerFunc[E]:
            self.bind(func, id=id, priority=priority, tags=tags)
            return func

        return decorator

    def unbind(self, *ids: str) -> None:
        """Remove the handlers bound under ``ids`` (unknown ids are ignored)."""
        self._set([h for h in self.handlers if h.id not in ids])

    def unbind_all(self) -> None:
        self._set([])

    def tagged(self, *tags: str) -> TaggedHook[E]:
        """A view of this hook whose :meth:`TaggedHook.bind` adds ``tags`` to every handler."""
        return TaggedHook(self, frozenset(tags))

    def _set(self, handlers: list[Handler[E]]) -> None:
        # a stable sort keeps binding order among equal priorities; triggers in flight keep the
        # tuple they started with, so binding from inside a handler never disturbs a running chain
        self.handlers = tuple(sorted(handlers, key=lambda h: h.priority))
        self._tagged = any(h.tags for h in self.handlers)

    def trigger(self, event: E, final: Callable[[E], Awaitable[None]] | None = None) -> Awaitable[None]:
        """Run ``event`` through the handlers, then ``final`` (the guarded action), if the chain gets there.

        Await the result. With no handler bound this hands back ``final``'s own coroutine, so an
        unused hook costs no coroutine of its own on the hot paths that trigger it.
        """
        handlers = self.handlers
        if not handlers:
            return _DONE if final is None else final(event)
        if self._tagged:
            tags = event.hook_tags()
            funcs: list[Callable[[E], Awaitable[None] | None]] = [
                h.func for h in handlers if not h.tags or not h.tags.isdisjoint(tags)
            ]
        else:
            funcs = [h.func for h in handlers]
        if tracing.active:
            from roost.tools.tracing.spans import traced_handlers

            funcs = traced_handlers(self.name, funcs)
        if final is not None:
            funcs.append(final)
        elif len(funcs) == 1 and event._next is None:
            # one handler and nothing after it (the after-commit hooks with only Roost's own
            # handler): its next() finds no link and returns at once, so no chain is needed
            result = funcs[0](event)
            return result if result is not None and hasattr(result, "__await__") else _DONE
        return self._run(event, _Chain(event, funcs))

    @staticmethod
    async def _run(event: E, chain: _Chain) -> None:
        # an event re-triggered from inside a chain (save triggers its execute hook with the same
        # event) gets its outer link back afterwards; at the outermost level this also breaks the
        # event <-> chain cycle, so the pair is freed at once instead of by the cycle collector
        outer, event._next = event._next, chain
        try:
            await chain()
        finally:
            event._next = outer


class _Chain:
    """The links of one trigger; each ``next()`` starts the following one.

    A handler's own coroutine is handed back to the ``await`` in the handler before it (no
    wrapper per link), and links only move forward, so a second ``next()`` in one handler finds
    the rest of the chain already run.
    """

    __slots__ = ("event", "funcs", "index")

    def __init__(self, event: Event, funcs: list[Callable[[Any], Awaitable[None] | None]]) -> None:
        self.event = event
        self.funcs = funcs
        self.index = 0

    def __call__(self) -> Awaitable[None]:
        index = self.index
        if index >= len(self.funcs):
            return _DONE
        self.index = index + 1
        result = self.funcs[index](self.event)
        return result if result is not None and hasattr(result, "__await__") else _DONE


class TaggedHook(Generic[E]):
    """Binds handlers to a :class:`Hook` for events tagged with one of ``tags``."""

    def __init__(self, hook: Hook[E], tags: frozenset[str]) -> None:
        self.hook = hook
        self.tags = tags

    def bind(self, func: HandlerFunc[E], *, id: str | None = None, priority: int = 0) -> str:
        return self.hook.bind(func, id=id, priority=priority, tags=self.tags)

    def handle(
        self, *, id: str | None = None, priority: int = 0
    ) -> Callable[[HandlerFunc[E]], HandlerFunc[E]]:
        return self.hook.handle(id=id, priority=priority, tags=self.tags)

    def unbind(self, *ids: str) -> None:
        self.hook.unbind(*ids)
