"""Long-running background jobs: started when the app starts serving, cancelled when it closes.

A job is an async function that runs until it is cancelled (a queue consumer, a poller). Plugins
add theirs with ``app.jobs.add(name, job)``. A job that raises is logged and not restarted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from roost.tools.metrics import Metrics, NullMetrics

Job = Callable[[], Awaitable[None]]
log = logging.getLogger("roost.jobs")
#: seconds a cancelled job gets to finish before it is cancelled again, and again before it is left
STOP_GRACE = 10.0


class Jobs:
    """The app's background jobs, by name."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or NullMetrics()
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._serving = False

    def add(self, name: str, job: Job) -> None:
        """Register ``job``; it starts with the server (at once if the app already serves)."""
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is already registered")
        self._jobs[name] = job
        if self._serving:
            self._start(name)

    def start(self) -> None:
        """Start every registered job (the app now serves)."""
        self._serving = True
        for name in self._jobs:
            if name not in self._tasks:
                self._start(name)

    async def stop(self) -> None:
        """Cancel every job and wait until each has finished."""
        self._serving = False
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for task in pending:  # a job that caught its cancel must not hold the shutdown forever
            log.error("background job %s did not stop when cancelled; cancelling it again", task.get_name())
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=STOP_GRACE)

    def running(self) -> list[str]:
        """Names of the jobs whose task is still running."""
        return [name for name, task in self._tasks.items() if not task.done()]

    def _start(self, name: str) -> None:
        self._tasks[name] = asyncio.get_running_loop().create_task(
            self._run(name), name=f"roost job {name}"
        )

    async def _run(self, name: str) -> None:
        started = time.monotonic()
        try:
            await self._jobs[name]()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job %s failed", name)
            self.metrics.job_finished("job", name, "failure", time.monotonic() - started)
        else:
            self.metrics.job_finished("job", name, "success", time.monotonic() - started)
