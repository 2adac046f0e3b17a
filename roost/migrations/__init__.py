"""Migrations: Roost's system migrations (:mod:`roost.migrations.system`), the helpers the
user's migration files call (:mod:`roost.migrations.collections`) and the text of the files
Roost writes (:mod:`roost.migrations.templates`). One runner, :mod:`roost.core.migrations`,
applies both kinds and records them in ``_migrations``.
"""
