"""Requests between the processes of one deployment, about the realtime clients each one holds.

A realtime client lives in the one process that holds its stream, and every client id starts
with that process's node tag. A request about a client of another process (an SSE subscribe POST
or an OAuth2 redirect that a load balancer sent elsewhere) is published on the owner's control
channel; the owner answers on the asker's channel. No answer within ``timeout`` means the owner
is gone, and the asker treats the client as unknown.

Messages are JSON: ``{"k": "ask", "op", "ref", "from", "args"}`` and ``{"k": "answer", "ref",
"result"}``. ``args`` and ``result`` are JSON objects defined by each operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import string
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from roost.core.errors import ServiceUnavailable
from roost.tools.broker import Broker, BrokerError

log = logging.getLogger("roost.realtime")
ALPHABET = string.ascii_letters + string.digits
#: the node tag that starts every client id of a process, then ``CLIENT_ID_LENGTH - NODE_LENGTH``
#: random characters: 40 letters and digits in all, the form the SDKs know
NODE_LENGTH = 8
CLIENT_ID_LENGTH = 40
BROKER_DOWN = "Realtime is temporarily unavailable on this instance. Please try again later."

#: answers one operation on the owning process; receives ``args``, returns ``result``
Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def random_text(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def owner_of(client_id: str) -> str:
    """The node tag of the process that issued ``client_id`` ('' when it is not a client id)."""
    if len(client_id) != CLIENT_ID_LENGTH or not client_id.isascii() or not client_id.isalnum():
        return ""
    return client_id[:NODE_LENGTH]


class ControlChannel:
    """Ask the process that owns a client to run an operation, and answer such requests."""

    def __init__(self, broker: Broker, prefix: str, node: str, timeout: float = 3.0) -> None:
        self.broker = broker
        self.prefix = prefix
        self.node = node
        #: seconds to wait for an owner's answer
        self.timeout = timeout
        self._operations: dict[str, Operation] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], Awaitable[None]] | None = None

    @property
    def enabled(self) -> bool:
        """Only a broker that leaves this process can reach another owner."""
        return self.broker.cross_process

    def channel(self, node: str) -> str:
        return f"{self.prefix}.ctl.{node}"  # within PostgreSQL's 63-byte channel names

    def register(self, op: str, operation: Operation) -> None:
        self._operations[op] = operation

    async def start(self) -> None:
        if self.enabled and self._unsubscribe is None:
            self._unsubscribe = await self.broker.subscribe(self.channel(self.node), self._on_message)

    async def close(self) -> None:
        if self._unsubscribe is not None:
            await self._unsubscribe()
            self._unsubscribe = None
        for task in list(self._running):
            task.cancel()
        for waiter in self._waiting.values():
            waiter.cancel()
        self._waiting.clear()

    async def ask(self, node: str, op: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """Run ``op`` on process ``node``; its result, or None when nobody answered in time.

        Raises:
            ServiceUnavailable: the broker cannot be reached, so nobody can be asked (503).
        """
        if self._unsubscribe is None or node == self.node:
            return None
        ref = secrets.token_hex(8)
        waiter = self._waiting[ref] = asyncio.get_running_loop().create_future()
        message = {"k": "ask", "op": op, "ref": ref, "from": self.node, "args": args}
        try:
            await self.broker.publish(self.channel(node), orjson.dumps(message))
            async with asyncio.timeout(self.timeout):
                result: dict[str, Any] = await waiter
            return result
        except TimeoutError:
            return None
        except BrokerError as exc:
            log.warning("realtime control request to %s failed: %s", node, exc)
            raise ServiceUnavailable(BROKER_DOWN) from exc
        finally:
            self._waiting.pop(ref, None)

    async def _on_message(self, payload: bytes) -> None:
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(message, dict):
            return
        if message.get("k") == "answer":
            waiter = self._waiting.get(str(message.get("ref")))
            if waiter is not None and not waiter.done() and isinstance(message.get("result"), dict):
                waiter.set_result(message["result"])
        elif message.get("k") == "ask":
            # answered in a task: an operation may query the database, and the broker's reader
            # must keep delivering record events meanwhile
            task = asyncio.create_task(self._answer(message))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _answer(self, message: dict[str, Any]) -> None:
        operation = self._operations.get(str(message.get("op")))
        args, sender = message.get("args"), message.get("from")
        if operation is None or not isinstance(args, dict) or not isinstance(sender, str):
            return
        try:
            result = await operation(args)
        except Exception:
            log.exception("realtime control operation %s failed", message.get("op"))
            result = {"error": "internal"}
        answer = {"k": "answer", "ref": message.get("ref"), "result": result}
        with contextlib.suppress(Exception):
            await self.broker.publish(self.channel(sender), orjson.dumps(answer))
