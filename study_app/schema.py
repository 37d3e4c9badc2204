"""The study database's tables, engine settings and schema version (SQLAlchemy 2).

SQLite by default (WAL journal, busy timeout, writes begin IMMEDIATE so concurrent writers queue
instead of failing); PostgreSQL through `postgresql+psycopg://user:pass@host/db` when several app
servers share one database. Answers are unique per (respondent, image) and per (respondent,
trial index), so an insert-or-ignore can never add a duplicate row. Times are stored as naive UTC
datetimes. `study_app.store` is the only module that queries these tables.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

SCHEMA_VERSION = 2          # 2: trials.server_ms, studies.url_key (version 1 is upgraded on open)
DIALECTS = ("sqlite", "postgresql")
SQLITE_BUSY_MS = 30_000     # the command-line verbs: a writer waits this long for the SQLite lock
APP_BUSY_MS = 3_000         # the app: a click waits at most this long, then the page says "busy"

metadata = sa.MetaData()
schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
)
studies = sa.Table(
    "studies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("options", sa.Text, nullable=False),            # JSON of StudyOptions
    sa.Column("consent_version", sa.String(64), nullable=False),
    sa.Column("consent_text", sa.Text, nullable=False),
    sa.Column("image_dir", sa.Text, nullable=False),
    sa.Column("url_key", sa.String(64)),                      # secret: keys the images' public names
)
images = sa.Table(
    "images", metadata,
    sa.Column("id", sa.String(64), primary_key=True),         # opaque random token
    sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False, index=True),
    sa.Column("is_generated", sa.Boolean, nullable=False),
    sa.Column("model", sa.String(200)),                       # generator name; NULL for real images
    sa.Column("kind", sa.String(16), nullable=False),         # main | practice | catch
    sa.Column("path", sa.Text, nullable=False),               # the re-encoded PNG on disk
    sa.Column("source", sa.Text),                             # original file (analysts only)
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("png", sa.LargeBinary, nullable=False),         # served bytes: app servers need no shared disk
)
respondents = sa.Table(
    "respondents", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False, index=True),
    sa.Column("pid", sa.String(64), nullable=False, unique=True),   # opaque token in ?pid=
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),               # JSON list of image ids, in trial order
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("gender", sa.String(32)),
    sa.Column("age_band", sa.String(16)),
    sa.Column("clothing_work", sa.Boolean),
    sa.Column("background", sa.String(200)),
    sa.Column("demographics_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("completion_code", sa.String(16)),
    sa.Column("simulated", sa.Boolean, nullable=False, default=False),
)
consent = sa.Table(
    "consent", metadata,
    sa.Column("respondent_id", sa.Integer, sa.ForeignKey("respondents.id"), primary_key=True),
    sa.Column("consent_version", sa.String(64), nullable=False),
    sa.Column("consented_at", sa.DateTime, nullable=False),
)
trials = sa.Table(
    "trials", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("respondent_id", sa.Integer, sa.ForeignKey("respondents.id"), nullable=False),
    sa.Column("trial_index", sa.Integer, nullable=False),
    sa.Column("image_id", sa.String(64), sa.ForeignKey("images.id"), nullable=False),
    sa.Column("answer", sa.String(16), nullable=False),
    sa.Column("shown_at", sa.DateTime),
    sa.Column("answered_at", sa.DateTime, nullable=False),
    sa.Column("response_ms", sa.Integer),                     # browser: image on screen -> click
    sa.Column("server_ms", sa.Integer),                       # server: trial sent -> answer received
    sa.UniqueConstraint("respondent_id", "image_id", name="uq_trials_respondent_image"),
    sa.UniqueConstraint("respondent_id", "trial_index", name="uq_trials_respondent_index"),
)


def utcnow() -> datetime:
    """Now as a naive UTC datetime (the form stored in every time column)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def naive_utc(t: datetime | None) -> datetime | None:
    """`t` converted to the stored form (naive UTC); naive input is taken as UTC already."""
    if t is None or t.tzinfo is None:
        return t
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def sqlite_file(u: sa.URL) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database or PostgreSQL)."""
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    return Path(u.database).expanduser().resolve()


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a file, None if it does not exist: a database file deleted or replaced
    while the server runs has another identity (or none), though open connections still write
    into the old, unlinked one."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def make_engine(u: sa.URL, busy_ms: int = SQLITE_BUSY_MS) -> sa.Engine:
    """An engine for a PostgreSQL or SQLite URL with the settings above (pool sized for one app
    server's sessions); a SQLite writer waits up to `busy_ms` for the lock."""
    if u.get_backend_name() == "postgresql":
        return sa.create_engine(u, pool_pre_ping=True, pool_size=10, max_overflow=20)
    memory = sqlite_file(u) is None
    engine = sa.create_engine(
        u, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False},
        **({"poolclass": StaticPool} if memory else {"pool_size": 10, "max_overflow": 20}))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None      # we issue BEGIN ourselves (SQLAlchemy's pysqlite recipe)
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL: a commit is not fsynced (a checkpoint is). The database
            # cannot be corrupted, and a crash of the app loses nothing; only a power cut or OS
            # crash can undo the last commits, which the respondent then answers again on resume.
            # With FULL, every answer waited for one fsync while holding the write lock (0.3 s each
            # on a busy disk, so 10 respondents already queued past the app's busy timeout).
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = "IMMEDIATE" if conn.get_execution_options().get("study_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def insert_ignore(dialect: str, table: sa.Table):
    """An INSERT that takes `.on_conflict_do_nothing()` on either dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def create_schema(conn: Connection, dialect: str) -> None:
    """Create every table and record SCHEMA_VERSION (a second server doing the same is harmless)."""
    metadata.create_all(conn)
    conn.execute(insert_ignore(dialect, schema_version).values(version=SCHEMA_VERSION)
                 .on_conflict_do_nothing())


def schema_problem(found: int | None) -> str | None:
    """Why a database with schema version `found` cannot be used (None if it can, perhaps after
    `upgrade`)."""
    if found is None or found > SCHEMA_VERSION:
        return (f"database schema version {found} is newer than this study_app supports "
                f"({SCHEMA_VERSION}); upgrade study_app")
    return None


def upgrade(conn: Connection, found: int) -> None:
    """Bring a database of schema version `found` up to SCHEMA_VERSION (each step additive)."""
    if found < 2:   # 1 -> 2: the server-side answer time beside the browser's; image URL keys
        conn.execute(sa.text("ALTER TABLE trials ADD COLUMN server_ms INTEGER"))
        conn.execute(sa.text("ALTER TABLE studies ADD COLUMN url_key VARCHAR(64)"))
        for study_id in conn.execute(sa.select(studies.c.id)).scalars().all():
            conn.execute(studies.update().where(studies.c.id == study_id)
                         .values(url_key=secrets.token_hex(32)))
    conn.execute(schema_version.update().values(version=SCHEMA_VERSION))
