"""The state store: SQLAlchemy Core over SQLite or PostgreSQL (the same code on both).

Holds the store and its transactions (`db`), the values it writes and reads (`values`), the
delegations table's queries (`delegations`), the engine and what differs between dialects
(`engine`), copying a database to another engine (`copy`), the table definitions (`schema`),
the alembic migrations and running them (`migrations/`, `migrate`), and how a database that
cannot be opened is explained (`errors`). May import only the base modules; every package above
may import it.
"""
