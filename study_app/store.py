"""Study storage: the only module in study_app that queries the database (tables in `schema`).

Every write is one short transaction and every value a bound parameter. Answers are inserted with
ON CONFLICT DO NOTHING, so a double click, a second tab or a resumed session can never add a
duplicate row; the first answer to reach the database wins. What never changes once written (a
study, its images, a respondent's plan) is cached per Store. The frames return times as tz-aware
UTC pandas columns.
"""
from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

from study_app import schema as S
from study_app.config import AGE_BANDS, ANSWERS, GENDERS, StudyOptions, default_db_url
from study_app.plan import ImageInfo, draw_plan
from study_app.records import (DatabaseBusy, DatabaseUnavailable, Respondent, StoreError,  # noqa: F401
                                 Study)
from study_app.schema import naive_utc, utcnow

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # completion codes: no 0/O, 1/I look-alikes
BACKGROUND_MAX = 200                                  # characters of the free-text background


class Store:
    """The study database. Thread-safe: one engine, a short connection per call.

    Opens an existing study database only; `create=True` (the `create` verb) makes a new one, so a
    mistyped path is an error instead of an empty database. A SQLite file deleted or replaced while
    the Store is open, and a database that stops answering, raise DatabaseUnavailable on the next
    call; a write lock held past `busy_ms` raises DatabaseBusy.
    """

    def __init__(self, url: str | None = None, *, create: bool = False, busy_ms: int = S.SQLITE_BUSY_MS):
        self.url = url or default_db_url()
        u = make_url(self.url)
        self.shown_url = u.render_as_string(hide_password=True)
        self.dialect = u.get_backend_name()
        if self.dialect not in S.DIALECTS:
            raise StoreError(f"--db {self.shown_url}: unsupported database; "
                             "use sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB")
        self._file = S.sqlite_file(u)
        if self._file is not None and not self._file.is_file():
            if not create:
                raise StoreError(f"--db {self.shown_url}: no such database file; check the path "
                                 "(`python -m study_app create` makes a new study database)")
            self._file.parent.mkdir(parents=True, exist_ok=True)
        self.engine = S.make_engine(u, busy_ms)
        self._lock = threading.Lock()
        self._plans: dict[int, tuple[str, ...]] = {}          # respondent id -> plan
        self._pools: dict[int, dict[str, ImageInfo]] = {}     # study id -> its images
        self._studies: dict[str, Study] = {}
        self._identity = None
        try:
            self._check_schema(create)
        except DatabaseUnavailable as e:
            self.engine.dispose()
            raise StoreError(f"--db {self.shown_url}: cannot open the database ({_reason(e.__cause__)}); "
                             "check the path, its permissions or the database server") from None
        self._identity = S.file_identity(self._file) if self._file else None

    def _check_file(self) -> None:
        """DatabaseUnavailable if the SQLite file is no longer the one this Store opened."""
        if self._identity is not None and S.file_identity(self._file) != self._identity:
            raise DatabaseUnavailable(f"--db {self.shown_url}: the database file was deleted or "
                                      "replaced while in use; nothing more can be saved there. "
                                      "Restore it and restart the server")

    @contextmanager
    def _connect(self, write: bool) -> Iterator[Connection]:
        """One short transaction (a write: SQLite BEGIN IMMEDIATE, so it waits for the lock);
        driver errors that mean "busy" or "gone" become DatabaseBusy / DatabaseUnavailable."""
        self._check_file()
        try:
            with self.engine.connect().execution_options(study_write=write) as conn, conn.begin():
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.InternalError) as e:
            text = str(e.orig).lower()
            if "locked" in text or "busy" in text:
                raise DatabaseBusy(f"--db {self.shown_url}: the database is busy (locked by another "
                                   "writer); nothing was saved, try again") from e
            raise DatabaseUnavailable(f"--db {self.shown_url}: {_reason(e)}") from e

    def _write(self):
        return self._connect(write=True)

    def _read(self):
        return self._connect(write=False)

    def _check_schema(self, create: bool) -> None:
        try:
            names = set(sa.inspect(self.engine).get_table_names())
        except sa.exc.DBAPIError as e:
            raise DatabaseUnavailable(_reason(e)) from e
        if "schema_version" not in names:
            if names & {"studies", "respondents", "trials"}:
                raise StoreError(f"--db {self.shown_url}: has study-like tables but no schema_version "
                                 "table; not a study_app database, use another --db")
            if not create:
                raise StoreError(f"--db {self.shown_url}: holds no study database; check the URL "
                                 "(`python -m study_app create` sets a study up)")
            try:
                with self._write() as conn:
                    S.create_schema(conn, self.dialect)
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
                pass   # another app server created the schema at the same moment; checked below
        with self._write() as conn:   # one writer at a time checks (and upgrades) the version
            q = sa.select(S.schema_version.c.version).order_by(S.schema_version.c.version.desc()).limit(1)
            found = conn.execute(q.with_for_update() if self.dialect == "postgresql" else q).scalar()
            problem = S.schema_problem(found)
            if problem:
                raise StoreError(f"--db {self.shown_url}: {problem}")
            if found < S.SCHEMA_VERSION:
                S.upgrade(conn, found)

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
            study_id = conn.execute(S.studies.insert().values(
                name=name, created_at=utcnow(), options=json.dumps(options.to_dict()),
                consent_version=consent_version, consent_text=consent_text, image_dir=image_dir,
                url_key=secrets.token_hex(32)).returning(S.studies.c.id)).scalar_one()
            if image_rows:
                conn.execute(S.images.insert(), [{**r, "study_id": study_id} for r in image_rows])
        return study_id

    def add_images(self, study_id: int, rows: list[dict]) -> None:
        """Insert a study's images (dicts with the images columns except study_id), one transaction."""
        with self._write() as conn:
            conn.execute(S.images.insert(), [{**r, "study_id": study_id} for r in rows])

    def study_names(self) -> list[str]:
        """Every study's name, newest first."""
        with self._read() as conn:
            return list(conn.execute(sa.select(S.studies.c.name).order_by(
                S.studies.c.created_at.desc(), S.studies.c.id.desc())).scalars())

    def get_study(self, name: str) -> Study:
        """The study called `name`; StoreError naming the known ones if there is none."""
        study = self.find_study(name)
        if study is None:
            raise StoreError(f"--study {name}: no such study in this database; "
                             f"known: {', '.join(self.study_names()) or 'none'}")
        return study

    def find_study(self, name: str) -> Study | None:
        """The study called `name` (None if there is none); cached, as a study never changes."""
        with self._lock:
            cached = self._studies.get(name)
        if cached is not None:
            return cached
        with self._read() as conn:
            row = conn.execute(sa.select(S.studies).where(S.studies.c.name == name)).mappings().first()
        if row is None:
            return None
        study = Study(id=row["id"], name=row["name"], created_at=row["created_at"],
                      consent_version=row["consent_version"], consent_text=row["consent_text"],
                      image_dir=row["image_dir"], options=StudyOptions.from_dict(json.loads(row["options"])),
                      url_key=row["url_key"])
        with self._lock:
            self._studies[name] = study
        return study

    def pool(self, study_id: int) -> dict[str, ImageInfo]:
        """A study's images by id."""
        with self._lock:
            cached = self._pools.get(study_id)
        if cached is not None:
            return cached
        i = S.images.c
        with self._read() as conn:
            rows = conn.execute(sa.select(i.id, i.is_generated, i.model, i.kind)
                                .where(i.study_id == study_id)).all()
        result = {r.id: ImageInfo(r.id, bool(r.is_generated), r.model, r.kind) for r in rows}
        with self._lock:
            self._pools[study_id] = result
        return result

    def image_png(self, image_id: str) -> bytes:
        """The PNG bytes served for an image."""
        with self._read() as conn:
            data = conn.execute(sa.select(S.images.c.png).where(S.images.c.id == image_id)).scalar()
        if data is None:
            raise StoreError(f"image {image_id}: not in this database")
        return bytes(data)

    # Respondents.
    def create_respondent(self, study: str, *, seed: int | None = None, simulated: bool = False,
                          started_at: datetime | None = None) -> Respondent:
        """Start a respondent: a fresh opaque pid, a seed and the trial plan drawn from it."""
        s = self.get_study(study)
        seed = secrets.randbits(31) if seed is None else int(seed)
        plan = tuple(draw_plan(list(self.pool(s.id).values()), s.options, seed))
        pid = secrets.token_urlsafe(16)
        with self._write() as conn:
            rid = conn.execute(S.respondents.insert().values(
                study_id=s.id, pid=pid, seed=seed, plan=json.dumps(plan),
                started_at=naive_utc(started_at) or utcnow(), simulated=bool(simulated),
            ).returning(S.respondents.c.id)).scalar_one()
        with self._lock:
            self._plans[rid] = plan
        return Respondent(id=rid, pid=pid, study=s.name, study_id=s.id, seed=seed, plan=plan)

    def find_respondent(self, pid: str, study_id: int | None = None) -> Respondent | None:
        """A respondent's state by pid (None if unknown, or not of study `study_id` when given:
        a link belongs to one study)."""
        r, t = S.respondents, S.trials
        q = (sa.select(r, S.studies.c.name.label("study"), S.consent.c.consented_at)
             .join(S.studies, S.studies.c.id == r.c.study_id)
             .outerjoin(S.consent, S.consent.c.respondent_id == r.c.id).where(r.c.pid == pid))
        if study_id is not None:
            q = q.where(r.c.study_id == study_id)
        with self._read() as conn:
            row = conn.execute(q).mappings().first()
            if row is None:
                return None
            answered = frozenset(conn.execute(sa.select(t.c.trial_index)
                                              .where(t.c.respondent_id == row["id"])).scalars())
        return Respondent(id=row["id"], pid=row["pid"], study=row["study"], study_id=row["study_id"],
                          seed=row["seed"], plan=tuple(json.loads(row["plan"])),
                          consented=row["consented_at"] is not None,
                          demographics_done=row["demographics_at"] is not None, answered=answered,
                          finished=row["finished_at"] is not None, completion_code=row["completion_code"])

    def _plan(self, respondent_id: int) -> tuple[str, ...]:
        with self._lock:
            plan = self._plans.get(respondent_id)
        if plan is None:
            with self._read() as conn:
                raw = conn.execute(sa.select(S.respondents.c.plan)
                                   .where(S.respondents.c.id == respondent_id)).scalar()
            if raw is None:
                raise StoreError(f"respondent {respondent_id}: unknown")
            plan = tuple(json.loads(raw))
            with self._lock:
                self._plans[respondent_id] = plan
        return plan

    def record_consent(self, respondent_id: int, consent_version: str,
                       at: datetime | None = None) -> None:
        """Store that the respondent agreed to this consent text version (first agreement kept)."""
        with self._write() as conn:
            conn.execute(S.insert_ignore(self.dialect, S.consent).values(
                respondent_id=respondent_id, consent_version=consent_version,
                consented_at=naive_utc(at) or utcnow()).on_conflict_do_nothing())

    def save_demographics(self, respondent_id: int, gender: str, age_band: str,
                          clothing_work: bool, background: str, at: datetime | None = None) -> bool:
        """Store the demographics form (values checked against config.GENDERS / AGE_BANDS); False,
        storing nothing, once the respondent has answered a trial (the answers are frozen then, so a
        stale second tab cannot change them)."""
        if gender not in GENDERS:
            raise ValueError(f"gender {gender!r}: must be one of {', '.join(GENDERS)}")
        if age_band not in AGE_BANDS:
            raise ValueError(f"age_band {age_band!r}: must be one of {', '.join(AGE_BANDS)}")
        background = background.strip()
        if not background or len(background) > BACKGROUND_MAX:
            raise ValueError(f"background: give 1 to {BACKGROUND_MAX} characters")
        r, t = S.respondents.c, S.trials.c
        started = sa.exists().where(t.respondent_id == respondent_id)
        with self._write() as conn:   # one statement: no answer can slip in between check and update
            n = conn.execute(S.respondents.update().where(r.id == respondent_id, ~started).values(
                gender=gender, age_band=age_band, clothing_work=bool(clothing_work),
                background=background, demographics_at=naive_utc(at) or utcnow())).rowcount
        return n == 1

    def record_answer(self, respondent_id: int, trial_index: int, answer: str,
                      shown_at: datetime | None = None, answered_at: datetime | None = None,
                      response_ms: int | None = None, server_ms: int | None = None) -> bool:
        """Store one answer; True if it was new, False if this trial already had one (kept).
        response_ms: the browser's time from the image on screen to the click; server_ms: the
        server's from sending the trial to receiving the answer.

        One statement per answer: INSERT ... SELECT ... WHERE the respondent consented, ON CONFLICT
        DO NOTHING RETURNING id. Only when nothing was inserted does a second query ask why."""
        if answer not in ANSWERS:
            raise ValueError(f"answer {answer!r}: must be one of {', '.join(ANSWERS)}")
        plan = self._plan(respondent_id)
        if not 0 <= trial_index < len(plan):
            raise ValueError(f"trial_index {trial_index}: must be in 0..{len(plan) - 1}")
        t, consented = S.trials, sa.exists().where(S.consent.c.respondent_id == respondent_id)
        row = {"respondent_id": respondent_id, "trial_index": trial_index,
               "image_id": plan[trial_index], "answer": answer, "shown_at": naive_utc(shown_at),
               "answered_at": naive_utc(answered_at) or utcnow(),
               "response_ms": None if response_ms is None else int(response_ms),
               "server_ms": None if server_ms is None else int(server_ms)}
        values = sa.select(*[sa.literal(v, t.c[k].type).label(k) for k, v in row.items()]).where(consented)
        insert = (S.insert_ignore(self.dialect, t).from_select(list(row), values)
                  .on_conflict_do_nothing().returning(t.c.id))
        with self._write() as conn:
            inserted = conn.execute(insert).first() is not None   # (rowcount is -1 with RETURNING on psycopg)
            if not inserted and conn.execute(sa.select(consented)).scalar() is False:
                raise StoreError(f"respondent {respondent_id}: no consent recorded; answer refused")
        return inserted

    def finish(self, respondent_id: int, at: datetime | None = None) -> str:
        """Mark a respondent whose every trial is answered as finished; returns the completion
        code (the same one on every call)."""
        plan = self._plan(respondent_id)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
        r, t = S.respondents, S.trials
        with self._write() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(t)
                             .where(t.c.respondent_id == respondent_id)).scalar_one()
            if n < len(plan):
                raise StoreError(f"respondent {respondent_id}: {n} of {len(plan)} trials answered")
            conn.execute(r.update().where(r.c.id == respondent_id, r.c.finished_at.is_(None))
                         .values(finished_at=naive_utc(at) or utcnow(), completion_code=code))
            return conn.execute(sa.select(r.c.completion_code).where(r.c.id == respondent_id)).scalar_one()

    # Frames for the analysis and the tests.
    def respondents_frame(self, study: str) -> pd.DataFrame:
        """One row per respondent: respondent_id, pid, gender, age_band, clothing_work (bool),
        background, consent_version, consented_at, started_at, finished_at, completion_code, seed,
        simulated (bool)."""
        r, c = S.respondents.c, S.consent.c
        q = (sa.select(r.id.label("respondent_id"), r.pid, r.gender, r.age_band, r.clothing_work,
                       r.background, c.consent_version, c.consented_at, r.started_at, r.finished_at,
                       r.completion_code, r.seed, r.simulated)
             .outerjoin(S.consent, c.respondent_id == r.id)
             .where(r.study_id == self.get_study(study).id).order_by(r.id))
        df = self._frame(q)
        df["clothing_work"] = df["clothing_work"].astype("boolean")
        df["simulated"] = df["simulated"].astype(bool)
        return _utc(df, ["consented_at", "started_at", "finished_at"])

    def trials_frame(self, study: str) -> pd.DataFrame:
        """One row per answer: respondent_id, trial_index, image_id, is_generated (bool), model,
        kind (main|practice|catch), answer (real|generated), correct (bool), shown_at, answered_at,
        response_ms, server_ms."""
        t, i = S.trials.c, S.images.c
        q = (sa.select(t.respondent_id, t.trial_index, t.image_id, i.is_generated, i.model, i.kind,
                       t.answer, t.shown_at, t.answered_at, t.response_ms, t.server_ms)
             .join(S.images, i.id == t.image_id)
             .where(i.study_id == self.get_study(study).id)
             .order_by(t.respondent_id, t.trial_index))
        df = self._frame(q)
        df["is_generated"] = df["is_generated"].astype(bool)
        df["correct"] = (df["answer"] == "generated") == df["is_generated"]
        df["response_ms"] = df["response_ms"].astype("Int64")
        df["server_ms"] = df["server_ms"].astype("Int64")
        df = df[["respondent_id", "trial_index", "image_id", "is_generated", "model", "kind",
                 "answer", "correct", "shown_at", "answered_at", "response_ms", "server_ms"]]
        return _utc(_none_for_nan(df, ["model"]), ["shown_at", "answered_at"])

    def images_frame(self, study: str) -> pd.DataFrame:
        """One row per study image: image_id, is_generated (bool), model, kind, path."""
        i = S.images.c
        q = (sa.select(i.id.label("image_id"), i.is_generated, i.model, i.kind, i.path)
             .where(i.study_id == self.get_study(study).id).order_by(i.id))
        df = self._frame(q)
        df["is_generated"] = df["is_generated"].astype(bool)
        return _none_for_nan(df, ["model"])

    def _frame(self, q) -> pd.DataFrame:
        with self._read() as conn:
            result = conn.execute(q)
            return pd.DataFrame(result.all(), columns=list(result.keys()))


def _reason(e: BaseException | None) -> str:
    """The first line of a driver error's own message (no SQL, no link to SQLAlchemy's docs)."""
    orig = getattr(e, "orig", None) or e
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def _none_for_nan(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    for c in cols:
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def _utc(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    for c in cols:
        df[c] = pd.to_datetime(df[c], utc=True)
    return df
