"""Apply alembic migrations programmatically (on open, and for `visit-gateway db upgrade`).

Alembic's command API wants a Config; we build it in code so no alembic.ini has to be
installed or found. The engine's connection is handed to env.py through `attributes`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

_SCRIPTS = Path(__file__).parent / "migrations"


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to `revision`. A database already at the head is only read: starting an
    instance takes no write lock, so a standby starts even while a paused leader holds it."""
    current = current_revision(engine)
    if revision == "head" and current == head_revision():
        return
    if current is not None and not known_revision(current):
        raise SchemaTooNew(current)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        conn = conn.execution_options(readonly=True)  # no write lock (gateway.store.engine)
        try:
            return MigrationContext.configure(conn).get_current_revision()
        finally:
            conn.rollback()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


class SchemaTooNew(Exception):
    """The database was migrated by a newer version of the gateway than this one."""

    def __init__(self, revision: str) -> None:
        super().__init__(revision)
        self.revision = revision


def known_revision(revision: str) -> bool:
    """Whether this version's migrations include `revision`."""
    try:
        return ScriptDirectory.from_config(_alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic: an unknown or malformed revision id
        return False
