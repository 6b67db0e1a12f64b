"""The database: the pool, named SQL files, aggregate documents, migrations and roles, the
audit log and the one change writer (audit + outbox)."""
