"""The embedded hub: shared state for the worker processes of one machine, without Redis.

``roost serve`` with several workers and no ``--redis-url`` runs a :class:`HubThread` in its
parent process and hands the workers its ``hub:///path`` URL. Each worker's broker, store,
rate-limit counters and response-cache counters then connect to it (see ``broker/hub.py``,
``store/hub.py``, ``ratelimit/hub.py`` and ``cache/hub.py``).
"""

from roost.tools.hub.client import HubClient, HubError, socket_path
from roost.tools.hub.server import Hub, HubThread

__all__ = ["Hub", "HubClient", "HubError", "HubThread", "socket_path"]
