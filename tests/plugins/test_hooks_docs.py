"""docs/hooks.md shows every hook with an example, and its Python snippets are valid Python."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from roost.core.hooks import Hooks

DOC = (Path(__file__).resolve().parents[2] / "docs" / "hooks.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", DOC, re.S)


def test_every_hook_has_an_example() -> None:
    shown = set(re.findall(r"@app\.(on_\w+)\(", DOC))
    assert set(Hooks().all()) - shown == set()
    assert shown - set(Hooks().all()) == set()


def test_snippets_compile() -> None:
    assert len(SNIPPETS) > 10
    for snippet in SNIPPETS:
        compile(snippet, "docs/hooks.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)  # the testing example awaits
