#!/usr/bin/env python3
"""What a hook costs on the hot path: triggering one with no handlers, one, and five.

Core triggers hooks in every record write and presents every record through
``on_record_enrich``, so an unused hook must cost next to nothing. This times, in one process:

* the guarded action called directly (the floor);
* ``await hook.trigger(event, action)`` with 0, 1 and 5 pass-through handlers (event included);
* the ``hook.handlers`` check core makes before building an event it may not need.

Run: ``.venv/bin/python bench/hooks_micro.py`` (about ten seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from roost.core.events import RecordEvent
from roost.core.hooks import Hooks
from roost.core.schema.collection import Collection

ROUNDS = 15
LOOPS = 200_000
COLL = Collection("pbc_bench", "bench")
COLL_EVENT = RecordEvent(app=None, collection=COLL, record={}, action="create")  # type: ignore[arg-type]


async def action(event: RecordEvent) -> None:
    return None


async def passing(event: RecordEvent) -> None:
    await event.next()


async def timed(body: Callable[[], Awaitable[None]]) -> float:
    """Best-of-rounds nanoseconds per call of ``body``."""
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for _ in range(LOOPS):
            await body()
        samples.append((time.perf_counter_ns() - start) / LOOPS)
    return min(samples)


def event() -> RecordEvent:
    return RecordEvent(app=None, collection=COLL, record={}, action="create")  # type: ignore[arg-type]


async def main() -> None:
    await timed(lambda: action(event()))  # warm-up
    results: dict[str, Any] = {}
    results["action called directly"] = await timed(lambda: action(event()))
    results["event built, action called"] = results["action called directly"]
    results["action called directly"] = await timed(lambda: action(COLL_EVENT))
    for count in (0, 1, 5):
        hook = Hooks().on_record_create
        for _ in range(count):
            hook.bind(passing)
        results[f"trigger, {count} handler(s)"] = await timed(
            lambda hook=hook: hook.trigger(event(), action)
        )
    empty = Hooks().on_record_enrich

    async def guarded() -> None:
        if empty.handlers:
            await empty.trigger(event())

    results["handlers guard, none bound"] = await timed(guarded)
    floor = results["action called directly"]
    for name, ns in results.items():
        print(f"{name:28} {ns:8.0f} ns/call   (+{ns - floor:6.0f} ns over the direct call)")


if __name__ == "__main__":
    asyncio.run(main())
