"""Serving Roost over HTTP.

* :mod:`roost.server.serving`: the one code path that starts uvicorn, for one worker or N
  (``roost serve`` and ``Roost.run()``), with the server options every worker shares.
* :mod:`roost.server.supervisor`: the parent of ``roost serve --workers N``. It binds the
  listening sockets, hosts the embedded hub and starts, watches and replaces the workers. It
  imports neither uvicorn nor the app, so that it stays a small process.
* :mod:`roost.server.worker`: one worker process (``python -m roost.server.worker``).
* :mod:`roost.server.protocol`: the HTTP protocol with Roost's connection limits.

This package imports nothing itself: the supervisor's ``python -m roost.server`` loads only
what supervising needs.
"""
