"""Load test of the study app: N respondents answering at once against a running server.

Each simulated respondent is a client speaking Streamlit's own websocket protocol (BackMsg /
ForwardMsg protobufs on /_stcore/stream), as the browser does: it opens its `?pid=` link, presses
Start on the instructions page, then answers every trial by pressing "Real" or "Generated" after a
think time of 2 +/- 1 s (uniform), and fetches each image from the server's media URL as a
browser would. A share of clicks are double clicks (the same button twice, back to back).
Consent and demographics are stored beforehand through the Store's public API (they are one
form each and not what a study's load is made of); everything after is the real app.

Measured per level: answers sent, saved, lost (sent, not in the database), duplicated (extra rows
for one trial), mismatched (saved answer differs from the click), p50/p95/max time from the click
to the next image on screen (script run finished and image bytes fetched), media errors, and the
server's CPU and memory from /proc. Levels run one after another, each on a fresh study and a
freshly started server, each bounded in time.

  python benchmarks/study_load.py --levels 60 --out results/study_load
  python benchmarks/study_load.py --levels 60,100,150,200 --db postgres --servers 2
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from study_app.config import StudyConfig  # noqa: E402
from study_app.create import create_study  # noqa: E402
from study_app.store import Store  # noqa: E402
from inkwash import provenance as tprov  # noqa: E402

PG_BASE = os.environ.get("STUDY_PG_URL", "postgresql+psycopg://study:study@127.0.0.1:5432/study_test")
GOAL_P95_MS = 300.0
FINISHED_OK = 0     # ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY


@dataclass
class ClientResult:
    respondent_id: int
    sent: dict[int, str] = field(default_factory=dict)    # trial index -> answer clicked
    latencies_ms: list[float] = field(default_factory=list)
    double_clicks: int = 0
    media_errors: int = 0
    server_errors: list[str] = field(default_factory=list)   # error pages met (then reloaded)
    inflight: tuple[int, str] | None = None   # a click sent, its answer page not seen yet
    code: str | None = None
    error: str | None = None


class Page:
    """What one finished script run put on screen."""

    def __init__(self):
        self.buttons: dict[str, str] = {}   # label -> widget id
        self.trial: int | None = None
        self.image_url: str | None = None
        self.code: str | None = None
        self.exception: str | None = None   # an error the server showed instead of the page


class Client:
    """One respondent's browser tab, reduced to the protocol."""

    def __init__(self, host: str, port: int, pid: str):
        self.host, self.port, self.pid = host, port, pid
        self.qs, self.page_hash = f"pid={pid}", ""
        self.ws = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(f"ws://{self.host}:{self.port}/_stcore/stream",
                                           subprotocols=["streamlit"], max_size=None,
                                           open_timeout=60, ping_interval=None)

    async def send(self, trigger: str | None = None) -> None:
        m = BackMsg()
        m.rerun_script.query_string = self.qs
        m.rerun_script.page_script_hash = self.page_hash
        if trigger:
            w = m.rerun_script.widget_states.widgets.add()
            w.id, w.trigger_value = trigger, True
        await self.ws.send(m.SerializeToString())

    async def until_finished(self, timeout: float) -> Page:
        """Read ForwardMsgs until a script run finishes normally; what it showed."""
        page = Page()
        async with asyncio.timeout(timeout):
            while True:
                f = ForwardMsg()
                f.ParseFromString(await self.ws.recv())
                kind = f.WhichOneof("type")
                if kind == "new_session":
                    self.page_hash, page = f.new_session.page_script_hash, Page()
                elif kind == "page_info_changed":
                    self.qs = f.page_info_changed.query_string
                elif kind == "delta" and f.delta.WhichOneof("type") == "new_element":
                    e = f.delta.new_element
                    t = e.WhichOneof("type")
                    if t == "button":
                        page.buttons[e.button.label] = e.button.id
                        key = e.button.id.rsplit("-", 1)[-1]     # $$ID-<hash>-answer_<i>_<answer>
                        if key.startswith("answer_"):
                            page.trial = int(key.split("_")[1])
                    elif t == "imgs" and e.imgs.imgs:
                        page.image_url = e.imgs.imgs[0].url
                    elif t == "code":
                        page.code = e.code.code_text
                    elif t == "exception":
                        page.exception = f"{e.exception.type}: {e.exception.message}"[:160]
                    elif t == "alert" and e.alert.format == 1:     # st.error
                        page.exception = f"st.error: {e.alert.body}"[:160]
                elif kind == "script_finished" and f.script_finished == FINISHED_OK:
                    return page

    async def fetch(self, path: str) -> int:
        """GET a media URL (as the browser does for st.image); returns the HTTP status."""
        r, w = await asyncio.open_connection(self.host, self.port)
        w.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Connection: close\r\n\r\n".encode())
        await w.drain()
        data = await r.read()
        w.close()
        return int(data.split(b" ", 2)[1])

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def respondent(res: ClientResult, host: str, port: int, pid: str, rng: random.Random,
                     think: float, jitter: float, double_click: float, start_delay: float,
                     timeout: float) -> ClientResult:
    """One respondent from opening the link to the completion code, recorded into `res` as it
    goes (so a respondent stopped by the level's time limit still counts what it sent)."""
    c = Client(host, port, pid)
    try:
        await asyncio.sleep(start_delay)
        await c.connect()
        await c.send()
        page = await c.until_finished(timeout)
        if "Start" not in page.buttons:
            raise RuntimeError(f"expected the instructions page, got buttons {list(page.buttons)}")
        await c.send(page.buttons["Start"])
        page = await c.until_finished(timeout)
        while page.trial is not None:
            i = page.trial
            if page.image_url and (await c.fetch(page.image_url)) != 200:
                res.media_errors += 1
            await asyncio.sleep(rng.uniform(think - jitter, think + jitter))
            answer = rng.choice(["Real", "Generated"])
            t0 = time.perf_counter()
            await c.send(page.buttons[answer])
            if rng.random() < double_click:
                await c.send(page.buttons[answer])
                res.double_clicks += 1
            res.inflight = (i, answer.lower())
            while True:    # a double click may show the same trial once more before moving on
                page = await c.until_finished(timeout)
                if page.trial is None or page.trial > i:
                    break
            res.sent[i], res.inflight = answer.lower(), None
            if page.image_url:
                if (await c.fetch(page.image_url)) != 200:
                    res.media_errors += 1
                page.image_url = None
            res.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if page.trial is None and page.code is None and page.exception is not None:
                # The server showed an error instead of the next page: do what a person does,
                # reload the link (a new session), which resumes at the next unanswered trial.
                res.server_errors.append(page.exception)
                if len(res.server_errors) > 3:
                    break
                await c.close()
                c = Client(host, port, pid)
                await c.connect()
                await c.send()
                page = await c.until_finished(timeout)
                if "Start" in page.buttons:      # nothing answered yet: instructions again
                    await c.send(page.buttons["Start"])
                    page = await c.until_finished(timeout)
        res.code = page.code
        if res.code is None:
            raise RuntimeError(f"page without a trial or a completion code after trial "
                               f"{max(res.sent, default=None)}: {page.exception or 'no error shown'}")
    except Exception as e:   # noqa: BLE001 - every failure is counted and reported, never hidden
        res.error = f"{type(e).__name__}: {e}"[:200]
    finally:
        try:
            await c.close()
        except Exception:   # noqa: BLE001
            pass
    return res


class ProcMonitor:
    """CPU and RSS of server processes from /proc, sampled every `every` seconds."""

    def __init__(self, pids: list[int], every: float = 0.5):
        self.pids, self.every = pids, every
        self.tick = os.sysconf("SC_CLK_TCK")
        self.samples: list[tuple[float, float, float]] = []    # (time, cpu seconds, rss MiB)
        self._task = None

    def _read(self) -> tuple[float, float]:
        cpu = rss = 0.0
        for pid in self.pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(stat[11]) + int(stat[12])) / self.tick
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) / 1024
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
        return cpu, rss

    async def _run(self):
        while True:
            cpu, rss = self._read()
            self.samples.append((time.perf_counter(), cpu, rss))
            await asyncio.sleep(self.every)

    def start(self):
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict:
        self._task.cancel()
        cpu, rss = self._read()
        self.samples.append((time.perf_counter(), cpu, rss))
        t = np.array([s[0] for s in self.samples])
        c = np.array([s[1] for s in self.samples])
        r = np.array([s[2] for s in self.samples])
        wall = t[-1] - t[0]
        # CPU % over 2 s windows (100 % = one core busy).
        win = [100 * (c[j] - c[i]) / (t[j] - t[i]) for i in range(len(t))
               for j in [int(np.searchsorted(t, t[i] + 2.0))] if j < len(t) and t[j] > t[i]]
        return {"server_cpu_mean_pct": round(float(100 * (c[-1] - c[0]) / wall), 1) if wall else None,
                "server_cpu_peak_2s_pct": round(float(max(win)), 1) if win else None,
                "server_rss_start_mib": round(float(r[0]), 1),
                "server_rss_peak_mib": round(float(r.max()), 1),
                "server_rss_end_mib": round(float(r[-1]), 1)}


def make_images(folder: Path, n: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:size, 0:size]
    for i in range(n):
        f = rng.uniform(0.05, 0.4, 3)
        base = 127 + 100 * np.sin(x[..., None] * f + y[..., None] * f[::-1] + rng.uniform(0, 6, 3))
        a = np.clip(base + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(folder / f"p{i:03d}.png")


def pg_url_fresh_schema() -> tuple[str, str]:
    import sqlalchemy as sa
    schema = f"load_{secrets.token_hex(4)}"
    eng = sa.create_engine(PG_BASE)
    with eng.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    return f"{PG_BASE}?options=-csearch_path%3D{schema}", schema


def drop_pg_schema(schema: str) -> None:
    import sqlalchemy as sa
    eng = sa.create_engine(PG_BASE)
    with eng.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    eng.dispose()


def start_server(url: str, study: str, port: int, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "study_app", "--db", url, "--study", study,
                          "--port", str(port), "--address", "127.0.0.1"], cwd=ROOT, env=env,
                         stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
                         start_new_session=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return p
        except OSError:
            time.sleep(0.5)
        if p.poll() is not None:
            raise RuntimeError(f"server on port {port} exited; see {log_path}")
    raise RuntimeError(f"server on port {port} did not come up in 90 s; see {log_path}")


def stop_server(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def warm_up(ports: list[int], pid: str) -> None:
    """One session per server so first-run imports are not counted as respondents' latency."""
    for port in ports:
        c = Client("127.0.0.1", port, pid)
        await c.connect()
        await c.send()
        await c.until_finished(120)
        await c.close()


async def run_level(args, url: str, n: int, work: Path, level_idx: int) -> dict:
    study = f"load_{n}_{level_idx}"
    create_study(StudyConfig(name=study, real=work / "real", fake=[f"paper={work / 'fake'}"],
                             per_class=args.per_class, db=url, image_dir=work / f"img_{study}",
                             seed=level_idx))
    store = Store(url)
    consent_version = store.get_study(study)["consent_version"]
    people = []
    for k in range(n + 1):       # +1: a warm-up session, not counted
        r = store.create_respondent(study, simulated=True, seed=k)
        store.record_consent(r["respondent_id"], consent_version)
        store.save_demographics(r["respondent_id"], "prefer not to say", "other", k % 3 != 0,
                                "load test client")
        people.append((r["respondent_id"], r["pid"]))
    warm, people = people[0], people[1:]
    ports = [args.port + level_idx * 10 + s for s in range(args.servers)]
    procs = [start_server(url, study, port, work / f"server_{port}.log") for port in ports]
    try:
        await warm_up(ports, warm[1])
        mon = ProcMonitor([p.pid for p in procs])
        mon.start()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        rng = random.Random(args.seed + level_idx)
        t0 = time.perf_counter()
        results = [ClientResult(respondent_id=rid) for rid, _ in people]
        tasks = [asyncio.create_task(respondent(
            results[j], "127.0.0.1", ports[j % len(ports)], pid, random.Random(rng.random()),
            args.think, args.jitter, args.double_click, rng.uniform(0, args.think + args.jitter),
            args.timeout)) for j, (rid, pid) in enumerate(people)]
        done, pending = await asyncio.wait(tasks, timeout=args.level_time_limit)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        server = await mon.stop()
        await asyncio.sleep(2)     # let answers already sent reach the database (not counted in wall or CPU)
    finally:
        for p in procs:
            stop_server(p)
    timed_out = len(pending)
    # What the database holds, against what the clients clicked.
    trials = store.trials_frame(study)
    trials = trials[trials["respondent_id"] != warm[0]]
    resp = store.respondents_frame(study)
    sent = {(r.respondent_id, i): a for r in results for i, a in r.sent.items()}
    saved = {}
    dup = 0
    for rid, i, a in zip(trials["respondent_id"], trials["trial_index"], trials["answer"]):
        if (rid, i) in saved:
            dup += 1
        saved[(rid, i)] = a
    # lost counts clicks whose client saw the next page (or an error page) afterwards; a click
    # still in flight when the time limit stopped its client is reported as in_flight_at_limit.
    lost = sum(1 for k in sent if k not in saved)
    mismatched = sum(1 for k, a in sent.items() if k in saved and saved[k] != a)
    inflight = {(r.respondent_id, r.inflight[0]) for r in results if r.inflight}
    unexpected = sum(1 for k in saved if k not in sent and k not in inflight)
    lat = np.array([x for r in results for x in r.latencies_ms])
    store.close()
    n_trials = 2 * args.per_class
    row = {
        "respondents": n, "servers": args.servers, "db": args.db, "trials_each": n_trials,
        "completed": sum(1 for r in results if r.code), "errors": sum(1 for r in results if r.error),
        "timed_out": timed_out, "in_flight_at_limit": len(inflight), "answers_sent": len(sent), "answers_saved": len(saved),
        "lost": lost, "duplicated": dup, "mismatched": mismatched, "unexpected": unexpected,
        "double_clicks": sum(r.double_clicks for r in results),
        "media_errors": sum(r.media_errors for r in results),
        "server_error_pages": sum(len(r.server_errors) for r in results),
        "finished_in_db": int(resp.loc[resp["respondent_id"] != warm[0], "finished_at"].notna().sum()),
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "max_ms": round(float(lat.max()), 1) if len(lat) else None,
        "answers_per_s": round(len(sent) / wall, 1), "wall_s": round(wall, 1),
        **server,
        "client_cpu_s": round((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime), 1),
        "error_examples": sorted({r.error for r in results if r.error}
                                 | {e.split("\n")[0] for r in results for e in r.server_errors})[:3],
    }
    row["goal_met"] = bool(row["lost"] == 0 and row["duplicated"] == 0 and row["mismatched"] == 0
                           and row["errors"] == 0 and row["server_error_pages"] == 0 and row["timed_out"] == 0
                           and row["p95_ms"] is not None and row["p95_ms"] < GOAL_P95_MS)
    return row


def hardware() -> dict:
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {"cpu": tprov.cpu_model(), "cores": tprov.cpu_cores(), "memory_mib": mem, "gpu": tprov.gpu_names(),
            "load_avg_at_start": os.getloadavg()}


def provenance(argv: list[str]) -> dict:
    import streamlit
    return {"command": "python benchmarks/study_load.py " + " ".join(argv), "commit": tprov.git_commit(ROOT),
            "hardware": hardware(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": {"python": platform.python_version(), "streamlit": streamlit.__version__,
                         "websockets": websockets.__version__}}


COLUMNS = ["respondents", "servers", "db", "completed", "timed_out", "in_flight_at_limit", "answers_sent", "answers_saved", "lost",
           "duplicated", "mismatched", "double_clicks", "media_errors", "server_error_pages", "p50_ms", "p95_ms",
           "max_ms", "answers_per_s", "server_cpu_mean_pct", "server_cpu_peak_2s_pct",
           "server_rss_peak_mib", "client_cpu_s", "goal_met"]


def markdown(rows: list[dict], prov: dict) -> str:
    args = argparse.Namespace(**prov["settings"])
    lines = ["# Study app under load", "",
             f"- command: `{prov['command']}`", f"- commit: `{prov['commit']}`",
             f"- date: {prov['date']}",
             f"- hardware: {prov['hardware']['cpu']}, {prov['hardware']['cores']} cores, "
             f"{prov['hardware']['memory_mib']} MiB, GPU: {prov['hardware']['gpu']}; load average at start "
             f"{', '.join(f'{x:.2f}' for x in prov['hardware']['load_avg_at_start'])}",
             f"- versions: {json.dumps(prov['versions'])}", "",
             "Each respondent is a websocket client speaking Streamlit's protocol (no browser), "
             f"answering {2 * args.per_class} trials with a think time of {args.think} +/- "
             f"{args.jitter} s and fetching every image over HTTP; {100 * args.double_click:.0f} % "
             "of clicks are double clicks. A client that gets an error page instead of the next "
             "image reloads its link (as a person would; at most 3 times) and goes on from the next "
             "unanswered trial; server_error_pages counts those, lost counts clicks whose answer "
             "never reached the database. Latency = click sent -> next image's script run "
             "finished and its bytes fetched. The load generator runs on the same machine as the "
             "server(s) and shares its cores (the load average at start is above); other jobs make "
             "absolute numbers noisy, so compare rows of one run. Server CPU: 100 % = one core. Goal: 0 lost, 0 "
             f"duplicated, p95 < {GOAL_P95_MS:.0f} ms.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c)) for c in COLUMNS) + " |")
    knee = next((r["respondents"] for r in rows if not r["goal_met"]), None)
    lines += ["", ("Knee: the goal was first missed at "
                   f"{knee} concurrent respondents." if knee else
                   "Knee: not reached within the levels run (every level met the goal).")]
    errs = [e for r in rows for e in r.get("error_examples", [])]
    if errs:
        lines += ["", "Client errors seen: " + "; ".join(errs)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--levels", default="60", help="comma-separated respondent counts, run in order")
    p.add_argument("--per-class", type=int, default=25, help="real and generated trials each")
    p.add_argument("--think", type=float, default=2.0, help="mean think time, s")
    p.add_argument("--jitter", type=float, default=1.0, help="think time is uniform in think +/- jitter")
    p.add_argument("--double-click", type=float, default=0.1, help="share of clicks sent twice")
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--servers", type=int, default=1, help="app servers (postgres for > 1)")
    p.add_argument("--port", type=int, default=8700, help="first server port")
    p.add_argument("--timeout", type=float, default=60.0, help="per-click timeout, s")
    p.add_argument("--level-time-limit", type=float, default=600.0, help="per level bound, s")
    p.add_argument("--stop-after-knee", action="store_true", help="stop at the first level that misses the goal")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "study_load")
    args = p.parse_args(argv)
    if args.servers > 1 and args.db != "postgres":
        print("--servers > 1 needs --db postgres (SQLite serves one process)", file=sys.stderr)
        return 2
    levels = [int(x) for x in args.levels.split(",")]
    prov = provenance(argv)
    prov["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    work = Path(tempfile.mkdtemp(prefix="study_load_"))
    make_images(work / "real", args.per_class + 2, 64, 1)
    make_images(work / "fake", args.per_class + 2, 64, 2)
    schema = None
    if args.db == "postgres":
        url, schema = pg_url_fresh_schema()
    else:
        url = f"sqlite:///{work / 'load.db'}"
    rows = []
    try:
        for k, n in enumerate(levels):
            row = asyncio.run(run_level(args, url, n, work, k))
            rows.append(row)
            print(" ".join(f"{c}={row[c]}" for c in COLUMNS), flush=True)
            if args.stop_after_knee and not row["goal_met"]:
                break
    finally:
        if schema:
            drop_pg_schema(schema)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else None
    runs = (existing or {}).get("runs", []) if os.environ.get("STUDY_LOAD_APPEND") else []
    runs.append({"provenance": prov, "rows": rows})
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"runs": runs}, indent=2))
    os.replace(tmp, out.with_suffix(".json"))
    md = "\n\n".join(markdown(r["rows"], r["provenance"]) for r in runs)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(md)
    os.replace(tmp, out.with_suffix(".md"))
    logs = sorted(work.glob("server_*.log"))
    keep = Path(tempfile.gettempdir()) / "study_load_logs"
    keep.mkdir(exist_ok=True)
    for f in logs:
        shutil.copy(f, keep / f.name)
    shutil.rmtree(work, ignore_errors=True)
    print(markdown(rows, prov))
    print(f"server logs kept in {keep}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
