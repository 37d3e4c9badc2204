"""Study storage on SQLAlchemy 2: the only module in study_app with SQL in it.

SQLite by default (WAL journal, busy timeout, writes begin IMMEDIATE so concurrent writers queue
instead of failing); PostgreSQL through `postgresql+psycopg://user:pass@host/db` when several app
servers share one database. Every write is one short transaction and every value a bound
parameter. Answers are inserted with ON CONFLICT DO NOTHING against UNIQUE(respondent, image) and
UNIQUE(respondent, trial_index), so a double click, a second tab or a resumed session can never
add a duplicate row; the first answer to reach the database wins.

Times are stored as naive UTC datetimes and returned by the frames as tz-aware UTC pandas columns.
"""
from __future__ import annotations

import json
import random
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import StaticPool

from study_app.config import AGE_BANDS, ANSWERS, GENDERS, KINDS, StudyOptions, default_db_url

SCHEMA_VERSION = 1
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # completion codes: no 0/O, 1/I look-alikes

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
    sa.Column("response_ms", sa.Integer),
    sa.UniqueConstraint("respondent_id", "image_id", name="uq_trials_respondent_image"),
    sa.UniqueConstraint("respondent_id", "trial_index", name="uq_trials_respondent_index"),
)


class StoreError(ValueError):
    """A database the app cannot use, or a request it cannot honour; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    """What the server knows about one study image (never sent to the browser)."""
    image_id: str
    is_generated: bool
    model: str | None
    kind: str


def utcnow() -> datetime:
    """Now as a naive UTC datetime (the form stored in every time column)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _naive_utc(t: datetime | None) -> datetime | None:
    if t is None or t.tzinfo is None:
        return t
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def draw_plan(pool: list[ImageInfo], options: StudyOptions, seed: int) -> list[str]:
    """One respondent's trial order: practice first, then main + catch trials shuffled together.

    Main trials take `per_class` real images and `per_class` generated ones drawn evenly across
    models (the remainder going to randomly chosen models), each a random subset of its pool.
    Deterministic in `seed` (Python's `random.Random`), so a stored seed reproduces the order.
    """
    rng = random.Random(seed)
    by_kind = {k: sorted((i for i in pool if i.kind == k), key=lambda i: i.image_id) for k in KINDS}
    real = [i.image_id for i in by_kind["main"] if not i.is_generated]
    fakes: dict[str, list[str]] = {}
    for i in by_kind["main"]:
        if i.is_generated:
            fakes.setdefault(i.model or "", []).append(i.image_id)
    models = sorted(fakes)
    if len(real) < options.per_class or not models:
        raise StoreError(f"study pool has {len(real)} real and {len(models)} generator pools; "
                         f"needs {options.per_class} real images and at least one generator")
    quota = {m: options.per_class // len(models) for m in models}
    for m in rng.sample(models, options.per_class % len(models)):
        quota[m] += 1
    main = rng.sample(real, options.per_class)
    for m in models:
        if len(fakes[m]) < quota[m]:
            raise StoreError(f"model {m!r} has {len(fakes[m])} images; a respondent needs {quota[m]}")
        main += rng.sample(fakes[m], quota[m])
    main += rng.sample([i.image_id for i in by_kind["catch"]], options.catch)
    rng.shuffle(main)
    practice_real = [i.image_id for i in by_kind["practice"] if not i.is_generated]
    practice_fake = [i.image_id for i in by_kind["practice"] if i.is_generated]
    n_real = options.practice // 2
    practice = rng.sample(practice_real, n_real) + rng.sample(practice_fake, options.practice - n_real)
    rng.shuffle(practice)
    return practice + main


class Store:
    """The study database. Thread-safe: one engine, a short connection per call."""

    def __init__(self, url: str | None = None):
        self.url = url or default_db_url()
        u = make_url(self.url)
        self.dialect = u.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"--db {u.render_as_string(hide_password=True)}: unsupported database; "
                             "use sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB")
        self.engine = self._make_engine(u)
        self._lock = threading.Lock()
        self._plans: dict[int, list[str]] = {}        # respondent id -> plan (immutable once made)
        self._pools: dict[int, dict[str, ImageInfo]] = {}   # study id -> its images (immutable)
        self._consented: set[int] = set()
        self._studies: dict[str, dict] = {}
        self._init_schema()

    # Engine and transactions.
    def _make_engine(self, u: sa.URL) -> sa.Engine:
        if self.dialect == "postgresql":
            return sa.create_engine(u, pool_pre_ping=True, pool_size=10, max_overflow=20)
        memory = u.database in (None, "", ":memory:")
        if not memory:
            Path(u.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            u, connect_args={"timeout": 30, "check_same_thread": False},
            **({"poolclass": StaticPool} if memory else {"pool_size": 10, "max_overflow": 20}))

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None      # we issue BEGIN ourselves (SQLAlchemy's pysqlite recipe)
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            mode = "IMMEDIATE" if conn.get_execution_options().get("study_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One short write transaction (SQLite: BEGIN IMMEDIATE, so it waits for the lock)."""
        with self.engine.connect().execution_options(study_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _insert_ignore(self, table: sa.Table):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _init_schema(self) -> None:
        shown = make_url(self.url).render_as_string(hide_password=True)
        names = set(sa.inspect(self.engine).get_table_names())
        if "schema_version" not in names:
            if names & {"studies", "respondents", "trials"}:
                raise StoreError(f"--db {shown}: has study-like tables but no schema_version table; "
                                 "not a study_app database, use another --db")
            try:
                with self._write() as conn:
                    metadata.create_all(conn)
                    conn.execute(self._insert_ignore(schema_version)
                                 .values(version=SCHEMA_VERSION).on_conflict_do_nothing())
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
                pass   # another app server created the schema at the same moment; checked below
        with self._read() as conn:
            found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
        if found is None or found > SCHEMA_VERSION:
            raise StoreError(f"--db {shown}: database schema version {found} is newer than this "
                             f"study_app supports ({SCHEMA_VERSION}); upgrade study_app")
        if found < SCHEMA_VERSION:
            raise StoreError(f"--db {shown}: database schema version {found} is older than "
                             f"{SCHEMA_VERSION} and no migration exists; use a new --db")

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # Studies and images.
    def create_study(self, name: str, options: StudyOptions, consent_text: str,
                     consent_version: str, image_dir: str, image_rows: list[dict] | None = None) -> int:
        """Add a study (and its images, in the same transaction, when given); raises StoreError
        if the name is taken. Returns its id."""
        if name in self.study_names():
            raise StoreError(f"--name {name}: a study with this name exists; choose another name")
        with self._write() as conn:
            study_id = conn.execute(studies.insert().values(
                name=name, created_at=utcnow(), options=json.dumps(options.to_dict()),
                consent_version=consent_version, consent_text=consent_text, image_dir=image_dir,
            ).returning(studies.c.id)).scalar_one()
            if image_rows:
                conn.execute(images.insert(), [{**r, "study_id": study_id} for r in image_rows])
        return study_id

    def add_images(self, study_id: int, rows: list[dict]) -> None:
        """Insert a study's images (dicts with the images columns except study_id), one transaction."""
        with self._write() as conn:
            conn.execute(images.insert(), [{**r, "study_id": study_id} for r in rows])

    def study_names(self) -> list[str]:
        """Every study's name, newest first."""
        with self._read() as conn:
            return list(conn.execute(sa.select(studies.c.name)
                                     .order_by(studies.c.created_at.desc(), studies.c.id.desc())).scalars())

    def get_study(self, name: str) -> dict:
        """A study as a flat dict: id, name, created_at, consent_version, consent_text, image_dir and
        every StudyOptions field (per_class, disclose_ratio, practice, catch, exclusion rules, ...)."""
        with self._lock:
            cached = self._studies.get(name)
        if cached is not None:
            return {**cached, "models": list(cached["models"])}
        with self._read() as conn:
            row = conn.execute(sa.select(studies).where(studies.c.name == name)).mappings().first()
        if row is None:
            raise StoreError(f"--study {name}: no such study in this database; "
                             f"known: {', '.join(self.study_names()) or 'none'}")
        opts = StudyOptions.from_dict(json.loads(row["options"]))
        study = {"id": row["id"], "name": row["name"], "created_at": row["created_at"],
                 "consent_version": row["consent_version"], "consent_text": row["consent_text"],
                 "image_dir": row["image_dir"], **opts.to_dict()}
        with self._lock:
            self._studies[name] = study    # a study never changes once created
        return {**study, "models": list(study["models"])}

    def study_options(self, name: str) -> StudyOptions:
        """The StudyOptions a study was created with."""
        d = self.get_study(name)
        return StudyOptions.from_dict(d)

    def pool(self, study_id: int) -> dict[str, ImageInfo]:
        """A study's images by id (cached: a study's images never change)."""
        with self._lock:
            cached = self._pools.get(study_id)
        if cached is not None:
            return cached
        with self._read() as conn:
            rows = conn.execute(sa.select(images.c.id, images.c.is_generated, images.c.model,
                                          images.c.kind).where(images.c.study_id == study_id)).all()
        result = {r.id: ImageInfo(r.id, bool(r.is_generated), r.model, r.kind) for r in rows}
        with self._lock:
            self._pools[study_id] = result
        return result

    def image_png(self, image_id: str) -> bytes:
        """The PNG bytes served for an image."""
        with self._read() as conn:
            data = conn.execute(sa.select(images.c.png).where(images.c.id == image_id)).scalar()
        if data is None:
            raise StoreError(f"image {image_id}: not in this database")
        return bytes(data)

    # Respondents.
    def create_respondent(self, study: str, *, seed: int | None = None, simulated: bool = False,
                          started_at: datetime | None = None) -> dict:
        """Start a respondent: a fresh opaque pid, a seed and the trial plan drawn from it.

        Returns dict(respondent_id, pid, seed, plan)."""
        st = self.get_study(study)
        seed = secrets.randbits(31) if seed is None else int(seed)
        plan = draw_plan(list(self.pool(st["id"]).values()), StudyOptions.from_dict(st), seed)
        pid = secrets.token_urlsafe(16)
        with self._write() as conn:
            rid = conn.execute(respondents.insert().values(
                study_id=st["id"], pid=pid, seed=seed, plan=json.dumps(plan),
                started_at=_naive_utc(started_at) or utcnow(), simulated=bool(simulated),
            ).returning(respondents.c.id)).scalar_one()
        with self._lock:
            self._plans[rid] = plan
        return {"respondent_id": rid, "pid": pid, "seed": seed, "plan": plan}

    def find_respondent(self, pid: str) -> dict | None:
        """A respondent's state by pid (None if unknown): respondent_id, study, study_id, seed,
        plan, consented, demographics_done, answered (set of trial indexes), finished,
        completion_code."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(respondents, studies.c.name.label("study"), consent.c.consented_at)
                .join(studies, studies.c.id == respondents.c.study_id)
                .outerjoin(consent, consent.c.respondent_id == respondents.c.id)
                .where(respondents.c.pid == pid)).mappings().first()
            if row is None:
                return None
            answered = set(conn.execute(sa.select(trials.c.trial_index)
                                        .where(trials.c.respondent_id == row["id"])).scalars())
        return {"respondent_id": row["id"], "pid": row["pid"], "study": row["study"],
                "study_id": row["study_id"], "seed": row["seed"], "plan": json.loads(row["plan"]),
                "consented": row["consented_at"] is not None,
                "demographics_done": row["demographics_at"] is not None,
                "answered": answered, "finished": row["finished_at"] is not None,
                "completion_code": row["completion_code"]}

    def _plan(self, respondent_id: int) -> list[str]:
        with self._lock:
            plan = self._plans.get(respondent_id)
        if plan is None:
            with self._read() as conn:
                raw = conn.execute(sa.select(respondents.c.plan)
                                   .where(respondents.c.id == respondent_id)).scalar()
            if raw is None:
                raise StoreError(f"respondent {respondent_id}: unknown")
            plan = json.loads(raw)
            with self._lock:
                self._plans[respondent_id] = plan
        return plan

    def record_consent(self, respondent_id: int, consent_version: str,
                       at: datetime | None = None) -> None:
        """Store that the respondent agreed to this consent text version (first agreement kept)."""
        with self._write() as conn:
            conn.execute(self._insert_ignore(consent).values(
                respondent_id=respondent_id, consent_version=consent_version,
                consented_at=_naive_utc(at) or utcnow()).on_conflict_do_nothing())
        with self._lock:
            self._consented.add(respondent_id)

    def save_demographics(self, respondent_id: int, gender: str, age_band: str,
                          clothing_work: bool, background: str, at: datetime | None = None) -> None:
        """Store the demographics form (values checked against config.GENDERS / AGE_BANDS)."""
        if gender not in GENDERS:
            raise ValueError(f"gender {gender!r}: must be one of {', '.join(GENDERS)}")
        if age_band not in AGE_BANDS:
            raise ValueError(f"age_band {age_band!r}: must be one of {', '.join(AGE_BANDS)}")
        background = background.strip()
        if not background or len(background) > 200:
            raise ValueError("background: give 1 to 200 characters")
        with self._write() as conn:
            conn.execute(respondents.update().where(respondents.c.id == respondent_id).values(
                gender=gender, age_band=age_band, clothing_work=bool(clothing_work),
                background=background, demographics_at=_naive_utc(at) or utcnow()))

    def record_answer(self, respondent_id: int, trial_index: int, answer: str,
                      shown_at: datetime | None = None, answered_at: datetime | None = None,
                      response_ms: int | None = None) -> bool:
        """Store one answer; True if it was new, False if this trial already had one (kept)."""
        if answer not in ANSWERS:
            raise ValueError(f"answer {answer!r}: must be one of {', '.join(ANSWERS)}")
        plan = self._plan(respondent_id)
        if not 0 <= trial_index < len(plan):
            raise ValueError(f"trial_index {trial_index}: must be in 0..{len(plan) - 1}")
        with self._lock:
            consented = respondent_id in self._consented
        with self._write() as conn:
            if not consented:
                ok = conn.execute(sa.select(consent.c.respondent_id)
                                  .where(consent.c.respondent_id == respondent_id)).first()
                if ok is None:
                    raise StoreError(f"respondent {respondent_id}: no consent recorded; answer refused")
            result = conn.execute(self._insert_ignore(trials).values(
                respondent_id=respondent_id, trial_index=trial_index, image_id=plan[trial_index],
                answer=answer, shown_at=_naive_utc(shown_at),
                answered_at=_naive_utc(answered_at) or utcnow(),
                response_ms=None if response_ms is None else int(response_ms),
            ).on_conflict_do_nothing().returning(trials.c.id))
            inserted = result.first() is not None   # (rowcount is -1 with RETURNING on psycopg)
        with self._lock:
            self._consented.add(respondent_id)
        return inserted

    def finish(self, respondent_id: int, at: datetime | None = None) -> str:
        """Mark a respondent whose every trial is answered as finished; returns the completion
        code (the same one on every call)."""
        plan = self._plan(respondent_id)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
        with self._write() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(trials)
                             .where(trials.c.respondent_id == respondent_id)).scalar_one()
            if n < len(plan):
                raise StoreError(f"respondent {respondent_id}: {n} of {len(plan)} trials answered")
            conn.execute(respondents.update()
                         .where(respondents.c.id == respondent_id, respondents.c.finished_at.is_(None))
                         .values(finished_at=_naive_utc(at) or utcnow(), completion_code=code))
            return conn.execute(sa.select(respondents.c.completion_code)
                                .where(respondents.c.id == respondent_id)).scalar_one()

    # Frames for the analysis (study2) and the tests.
    def _study_id(self, study: str) -> int:
        return self.get_study(study)["id"]

    def respondents_frame(self, study: str) -> pd.DataFrame:
        """One row per respondent: respondent_id, pid, gender, age_band, clothing_work (bool),
        background, consent_version, consented_at, started_at, finished_at, completion_code, seed,
        simulated (bool)."""
        sid = self._study_id(study)
        q = (sa.select(respondents.c.id.label("respondent_id"), respondents.c.pid,
                       respondents.c.gender, respondents.c.age_band, respondents.c.clothing_work,
                       respondents.c.background, consent.c.consent_version, consent.c.consented_at,
                       respondents.c.started_at, respondents.c.finished_at,
                       respondents.c.completion_code, respondents.c.seed, respondents.c.simulated)
             .outerjoin(consent, consent.c.respondent_id == respondents.c.id)
             .where(respondents.c.study_id == sid).order_by(respondents.c.id))
        df = self._frame(q)
        df["clothing_work"] = df["clothing_work"].astype("boolean")
        df["simulated"] = df["simulated"].astype(bool)
        return _utc(df, ["consented_at", "started_at", "finished_at"])

    def trials_frame(self, study: str) -> pd.DataFrame:
        """One row per answer: respondent_id, trial_index, image_id, is_generated (bool), model,
        kind (main|practice|catch), answer (real|generated), correct (bool), shown_at, answered_at,
        response_ms."""
        sid = self._study_id(study)
        q = (sa.select(trials.c.respondent_id, trials.c.trial_index, trials.c.image_id,
                       images.c.is_generated, images.c.model, images.c.kind, trials.c.answer,
                       trials.c.shown_at, trials.c.answered_at, trials.c.response_ms)
             .join(images, images.c.id == trials.c.image_id)
             .where(images.c.study_id == sid)
             .order_by(trials.c.respondent_id, trials.c.trial_index))
        df = self._frame(q)
        df["is_generated"] = df["is_generated"].astype(bool)
        df["correct"] = (df["answer"] == "generated") == df["is_generated"]
        df["response_ms"] = df["response_ms"].astype("Int64")
        df = df[["respondent_id", "trial_index", "image_id", "is_generated", "model", "kind",
                 "answer", "correct", "shown_at", "answered_at", "response_ms"]]
        return _utc(_none_for_nan(df, ["model"]), ["shown_at", "answered_at"])

    def images_frame(self, study: str) -> pd.DataFrame:
        """One row per study image: image_id, is_generated (bool), model, kind, path."""
        sid = self._study_id(study)
        q = (sa.select(images.c.id.label("image_id"), images.c.is_generated, images.c.model,
                       images.c.kind, images.c.path)
             .where(images.c.study_id == sid).order_by(images.c.id))
        df = self._frame(q)
        df["is_generated"] = df["is_generated"].astype(bool)
        return _none_for_nan(df, ["model"])

    def _frame(self, q) -> pd.DataFrame:
        with self._read() as conn:
            result = conn.execute(q)
            return pd.DataFrame(result.all(), columns=list(result.keys()))


def _none_for_nan(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    for c in cols:
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def _utc(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    for c in cols:
        df[c] = pd.to_datetime(df[c], utc=True)
    return df
