"""Fixtures for study_app: throwaway SQLite and PostgreSQL databases, tiny image folders, studies.

`tiny_folders` keeps its own writer (`write_folder`): the browser test's screenshots
(results/study_screenshots/) show these ink-wash patterns as the study's stimuli, and the create
tests need non-square sources of mixed sizes and formats, which the shared square
`synthetic_images` do not give. Everything else uses the shared `synthetic_images` and
`write_images` fixtures (tests/conftest.py).
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's AppTest runs the page script as `sys.modules["__main__"]` and leaves it there.
    A later forkserver/spawn worker pool (train's parallel loader) would then re-run app.py in
    every child; put the real `__main__` back after each test."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


PG_BASE = os.environ.get("STUDY_PG_URL", "postgresql+psycopg://study:study@127.0.0.1:5432/study_test")


def _pattern(rng: np.random.Generator, h: int, w: int, smooth: bool) -> np.ndarray:
    """A small ink-wash-like pattern: blurred ink blots and washes on paper; `smooth` ones have
    less fine grain (as generated images often do)."""
    from scipy.ndimage import gaussian_filter
    field = gaussian_filter(rng.normal(size=(h, w)), sigma=rng.uniform(2, 6), mode="wrap")
    y, x = np.mgrid[0:h, 0:w]
    wave = np.sin((x * rng.uniform(0.05, 0.2) + y * rng.uniform(0.05, 0.2)) + rng.uniform(0, 6))
    ink = np.clip((field - field.mean()) / (field.std() + 1e-6) * 0.5 + 0.4 * wave + 0.2, 0, 1)
    ink = ink ** rng.uniform(1.0, 2.0)
    if not smooth:
        ink = np.clip(ink + rng.normal(0, 0.06, (h, w)), 0, 1)
    paper = np.array([242, 236, 224], np.float64)
    colour = np.array(rng.choice([[31, 58, 96], [40, 40, 45], [120, 40, 45], [40, 90, 80]]), np.float64)
    return np.clip(paper * (1 - ink[..., None]) + colour * ink[..., None], 0, 255).astype(np.uint8)


def write_folder(folder: Path, n: int, size: tuple[int, int], seed: int, smooth: bool,
                 suffix: str = ".png", prefix: str = "img") -> Path:
    """Write `n` pattern images of `size` (w, h) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = _pattern(rng, size[1], size[0], smooth)
        Image.fromarray(a).save(folder / f"{prefix}_{i:03d}{suffix}")
    return folder


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A throwaway SQLite database file."""
    return f"sqlite:///{tmp_path / 'study.db'}"


@pytest.fixture
def pg_url():
    """A fresh schema in the PostgreSQL test database (dropped afterwards); skips with a reason
    when the server is down (tests/conftest.py turns that skip into a failure in CI)."""
    import sqlalchemy as sa
    admin = sa.create_engine(PG_BASE)
    try:
        with admin.connect():
            pass
    except Exception as e:   # noqa: BLE001 - any connection failure means "no server here"
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(e).__name__}); "
                    "start it with `bash tests/services.sh`")
    schema = f"t_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.db)])
def db_url(request, tmp_path) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def tiny_folders(tmp_path_factory) -> dict[str, Path]:
    """real/ (34 images of mixed sizes and formats), fake_a/ and fake_b/ (15 + 15 at 64 px)."""
    root = tmp_path_factory.mktemp("patterns")
    real = write_folder(root / "real", 30, (96, 80), 1, smooth=False)
    write_folder(real, 4, (70, 90), 2, smooth=False, suffix=".jpg", prefix="photo")
    return {"real": real,
            "fake_a": write_folder(root / "fake_a", 15, (64, 64), 3, smooth=True),
            "fake_b": write_folder(root / "fake_b", 15, (64, 64), 4, smooth=True),
            "root": root}


@pytest.fixture
def small_study(synthetic_images, write_images):
    """small_study(root, name="pilot", per_class=4, catch=0, practice=0, respondents=0, accuracy=0.6)
    -> the SQLite URL of a study made by `create` from 32 px synthetic images (2 spare per class),
    optionally filled by `simulate` (seeded)."""
    from study_app.simulate import SimulateConfig, simulate
    from study_app.store import Store

    def make(root: Path, name: str = "pilot", per_class: int = 4, catch: int = 0, practice: int = 0,
             respondents: int = 0, accuracy: float = 0.6, seed: int = 0) -> str:
        n = per_class + 2 + practice
        write_images(root / "real", synthetic_images(n, 32, seed=seed), prefix="real_")
        write_images(root / "fake", synthetic_images(n, 32, seed=seed + 1, style=1.0), prefix="fake_")
        url = f"sqlite:///{root / 'study.db'}"
        make_study(url, {"real": root / "real", "paper": root / "fake"}, name=name,
                   per_class=per_class, catch=catch, practice=practice, image_dir=root / "images")
        if respondents:
            store = Store(url)
            simulate(store, SimulateConfig(study=name, respondents=respondents, accuracy=accuracy,
                                           seed=seed))
            store.close()
        return url
    return make


def make_study(db: str, folders: dict[str, Path], name: str = "pilot", **kw) -> dict:
    """Create a study from `folders`: "real" and, as generators, every other entry but "root"
    (`tiny_folders` gives models "a" and "b" from fake_a/ and fake_b/); returns create_study's summary."""
    from study_app.config import StudyConfig
    from study_app.create import create_study
    fakes = [f"{k.removeprefix('fake_')}={v}" for k, v in folders.items() if k not in ("real", "root")]
    kw.setdefault("allow_mixed_sizes", ("real",))   # tiny_folders' real/ mixes sizes on purpose
    return create_study(StudyConfig(name=name, real=folders["real"], fake=fakes, db=db, **kw))


@pytest.fixture(scope="session")
def study_template(tiny_folders, tmp_path_factory) -> tuple[Path, dict]:
    """A 25 + 25 study built once per session (SQLite file + images), copied by `study`."""
    root = tmp_path_factory.mktemp("study_template")
    summary = make_study(f"sqlite:///{root / 'study.db'}", tiny_folders, image_dir=root / "images")
    return root / "study.db", summary


@pytest.fixture
def study(sqlite_url, study_template) -> dict:
    """A fresh copy of the template study in this test's `sqlite_url` database."""
    import shutil
    from sqlalchemy.engine import make_url
    shutil.copyfile(study_template[0], make_url(sqlite_url).database)
    return dict(study_template[1])


def trial_data(at) -> dict:
    """The data the trial component of an AppTest page was given (trial, src, render, ...)."""
    import json
    (el,) = at.get("bidi_component")
    return json.loads(el.proto.json)


def answer_trial(at, answer: str, viewed_ms: int = 900, waited_ms: int | None = None):
    """Answer the trial on an AppTest page as the trial component does in a browser: its "answer"
    trigger with the trial, the render and the viewing time. The server's clock is moved on by
    `waited_ms` (default viewed_ms + 50: the trial's sending time is set that much earlier), as
    if that time had passed."""
    import json
    from datetime import timedelta
    (el,) = at.get("bidi_component")
    data = json.loads(el.proto.json)
    shown = at.session_state["shown_at"]
    if data["trial"] in shown:
        shown[data["trial"]] -= timedelta(milliseconds=viewed_ms + 50 if waited_ms is None else waited_ms)
    states = at._tree.get_widget_states()
    w = states.widgets.add()
    w.id = f"$$STREAMLIT_INTERNAL_KEY_{el.proto.id}__events"
    w.json_trigger_value = json.dumps([{"event": "answer", "value": {
        "trial": data["trial"], "answer": answer,
        "render": data["render"], "viewed_ms": viewed_ms}}])
    at._run(widget_state=states)
    assert not at.exception
    return at


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through Playwright, one per test module (each test opens its own context)."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing; install Debian's chromium (tests/services.sh)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """serve(db_url, study, verb="serve", env=None) -> base URL of `python -m study_app VERB` on a
    free loopback port, once healthy (benchmarks._study_server.start_streamlit, the benchmarks' own
    start; its output goes to a log file named in the error); every server is stopped when the
    module's tests are done."""
    import socket
    from benchmarks._study_server import start_streamlit, stop_server
    logs = tmp_path_factory.mktemp("servers")
    procs = []

    def start(db_url: str, study: str | None = None, verb: str = "serve", env: dict | None = None) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = ["study_app", verb, "--db", db_url, "--port", str(port), *(["--study", study] if study else [])]
        procs.append(start_streamlit(args, port, log_path=logs / f"{verb}_{port}.log", env=env, wait_s=90,
                                     what=f"study_app {verb}"))
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        stop_server(proc)
