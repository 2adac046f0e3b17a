"""Local storage publishes whole files: concurrent writers of one key never leave a torn file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from roost.tools.storage import LocalStorage


async def test_concurrent_puts_of_one_key_leave_one_whole_payload(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    payloads = [bytes([i]) * 1_000_000 for i in range(4)]
    await asyncio.gather(*(storage.put("c/r/thumbs_a.png/20x10_a.png", p) for p in payloads * 3))
    assert await storage.get("c/r/thumbs_a.png/20x10_a.png") in payloads
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["20x10_a.png"]  # no temp file left
