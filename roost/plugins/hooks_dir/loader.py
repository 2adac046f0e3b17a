"""Running one hooks file and collecting what it registers.

A hooks file is plain Python run as a fresh module. It registers through ``roost.hooks.app``
(:data:`app`), a stand-in that hands every registration to the file being run at that moment;
nothing is bound until the whole file has run, so a file that fails half-way leaves no trace.
Its failure is one line naming the file and the line: ``hooks/posts.py:3: NameError: ...``.
"""

from __future__ import annotations

import sys
import traceback
import types
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from roost.core.app import App
from roost.plugins.hooks_dir.api import HookAPI
from roost.plugins.hooks_dir.registrations import Registration, one_line


class HookFileError(Exception):
    """A hooks file failed to run or to register; the message is one line with file and line."""


@dataclass
class _Loading:
    app: App
    path: Path
    registrations: list[Registration] = field(default_factory=list)


_loading: ContextVar[_Loading | None] = ContextVar("roost_hooks_loading", default=None)


class HooksFileApp(HookAPI):
    """``roost.hooks.app``: registers into the hooks file Roost is running right now."""

    @property
    def app(self) -> App:
        """The core app the file is loaded into (``app.app.collections``, ``app.app.db`` ...).

        Read it while the file runs (at its top level) and keep it: handlers get theirs as ``e.app``.
        """
        return self._current().app

    def _register(self, registration: Registration) -> None:
        self._current().registrations.append(registration)

    @staticmethod
    def _current() -> _Loading:
        loading = _loading.get()
        if loading is None:
            raise RuntimeError(
                "roost.hooks.app registers from a hooks file while Roost loads it; "
                "in your own program decorate with the Roost instance instead (app = Roost())"
            )
        return loading


#: what hooks files import: ``from roost.hooks import app``
app = HooksFileApp()


def run_hooks_file(core: App, path: Path) -> list[Registration]:
    """Run ``path`` as a module and return what it registered (not applied yet)."""
    try:
        code = compile(path.read_bytes(), str(path), "exec")
    except SyntaxError as exc:
        raise HookFileError(f"{path}:{exc.lineno}: SyntaxError: {one_line(exc.msg)}") from exc
    except OSError as exc:
        raise HookFileError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    name = f"roost_hooks.{path.stem}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    loading = _Loading(core, path)
    token = _loading.set(loading)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # dataclasses and typing look their module up while it runs
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as exc:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise HookFileError(
            f"{path}:{_line_in(path, exc)}: {type(exc).__name__}: {one_line(str(exc))}"
        ) from exc
    finally:
        _loading.reset(token)
    return loading.registrations


def _line_in(path: Path, exc: BaseException) -> int | str:
    """The last line of ``path`` the error passed through (where the file called what failed)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    if isinstance(exc, SyntaxError) and exc.filename == str(path):  # from a compile() inside it
        return exc.lineno or "?"
    return frames[-1].lineno if frames and frames[-1].lineno else "?"
