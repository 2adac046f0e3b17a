"""Per-app OAuth2 state: HTTP settings, small caches and the realtime redirect sink.

The state itself is :class:`roost.tools.oauth2.runtime.OAuth2Runtime`, declared on the App
(``app.oauth2``); tests and the realtime layer reach the same object.
"""

from __future__ import annotations

from roost.core.base import App
from roost.tools.oauth2.runtime import OAuth2Runtime, RedirectSink


def runtime(app: App) -> OAuth2Runtime:
    """The OAuth2 runtime of ``app``."""
    return app.oauth2


def set_redirect_sink(app: App, sink: RedirectSink | None) -> None:
    """Replace the delivery of provider callbacks (by default the realtime hub of this process,
    which forwards to the instance holding the client)."""
    app.oauth2.redirect_sink = sink
