"""Load test of the study app: N respondents answering at once against a running server.

Each simulated respondent is a client speaking Streamlit's own websocket protocol
(benchmarks/_study_client.py): it opens its `?pid=` link, presses Start, and answers every trial as
the trial component does in a browser (its "answer" trigger, within the trial's fragment) after a
think time of 2 +/- 1 s (uniform), fetching each image once and preloading the next ones into its
cache as a browser does; a share of answers are sent twice (what a double click on plain buttons
did; the component itself sends one). Consent and demographics are stored beforehand through the
Store's public API (they are one form each and not what a study's load is made of); everything
after is the real app.

Measured per level: answers sent, saved, lost (sent, not in the database), duplicated (extra rows
for one trial), mismatched (saved answer differs from the click), answers refused with a reason
and pressed again, p50/p95/max time from the click to the next image on screen (script run
finished and image bytes in the cache), media errors, and the servers' CPU (seconds per answer,
which other jobs on the machine disturb far less than latency) and memory from /proc. Levels run
one after another, each on a fresh study and freshly started servers, each bounded in time.

  python benchmarks/study_load.py --levels 20,40,60
  python benchmarks/study_load.py --levels 20,40,60 --db postgres --servers 2
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._study_client import ClientResult, respondent, warm_up  # noqa: E402
from benchmarks._study_server import ProcMonitor, start_server, stop_server, write_patterns  # noqa: E402
from inkwash import atomic  # noqa: E402
from inkwash.provenance import DEFAULT_PACKAGES, provenance  # noqa: E402
from study_app.config import StudyConfig  # noqa: E402
from study_app.create import create_study  # noqa: E402
from study_app.store import Store  # noqa: E402

PG_BASE = os.environ.get("STUDY_PG_URL", "postgresql+psycopg://study:study@127.0.0.1:5432/study_test")
GOAL_P95_MS = 300.0


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


async def run_level(args, url: str, n: int, work: Path, level_idx: int) -> dict:
    study = f"load_{n}_{level_idx}"
    create_study(StudyConfig(name=study, real=work / "real", fake=[f"paper={work / 'fake'}"],
                             per_class=args.per_class, db=url, image_dir=work / f"img_{study}",
                             seed=level_idx))
    store = Store(url)
    consent_version = store.get_study(study).consent_version
    people = []
    for k in range(n + 1):       # +1: a warm-up session, not counted
        r = store.create_respondent(study, simulated=True, seed=k)
        store.record_consent(r.id, consent_version)
        store.save_demographics(r.id, "prefer not to say", "other", k % 3 != 0, "load test client")
        people.append((r.id, r.pid))
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
        "refused_pressed_again": sum(len(r.refused) for r in results),
        "finished_in_db": int(resp.loc[resp["respondent_id"] != warm[0], "finished_at"].notna().sum()),
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "max_ms": round(float(lat.max()), 1) if len(lat) else None,
        "answers_per_s": round(len(sent) / wall, 1), "wall_s": round(wall, 1),
        **server,
        # CPU seconds per answer: far less sensitive to other jobs on the machine than latency.
        "server_cpu_ms_per_answer": round(1000 * server["server_cpu_s"] / max(1, len(saved)), 1),
        "client_cpu_s": round((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime), 1),
        "error_examples": sorted({r.error for r in results if r.error}
                                 | {e.split("\n")[0] for r in results for e in r.server_errors}
                                 | {e for r in results for e in r.refused})[:3],
    }
    row["goal_met"] = bool(row["lost"] == 0 and row["duplicated"] == 0 and row["mismatched"] == 0
                           and row["errors"] == 0 and row["server_error_pages"] == 0 and row["timed_out"] == 0
                           and row["p95_ms"] is not None and row["p95_ms"] < GOAL_P95_MS)
    return row


COLUMNS = ["respondents", "servers", "db", "completed", "timed_out", "in_flight_at_limit", "answers_sent", "answers_saved", "lost",
           "duplicated", "mismatched", "double_clicks", "media_errors", "server_error_pages",
           "refused_pressed_again", "p50_ms", "p95_ms",
           "max_ms", "answers_per_s", "server_cpu_ms_per_answer", "server_cpu_mean_pct", "server_cpu_peak_2s_pct",
           "server_rss_peak_mib", "client_cpu_s", "goal_met"]


def _hardware_line(prov: dict) -> str:
    hw = prov["hardware"]
    load = prov.get("load_average") or []
    return (f"- hardware: {hw['cpu']}, {hw['cpu_cores']} cores, {hw['memory_gb']} GiB, GPU: {hw['gpu']}; "
            f"load average at start {', '.join(f'{x:.2f}' for x in load) or 'unknown'}")


def markdown(rows: list[dict], prov: dict) -> str:
    args = argparse.Namespace(**prov["settings"])
    lines = ["# Study app under load", "",
             f"- command: `{prov['command']}`", f"- commit: `{prov['commit']}`",
             f"- date: {prov['date']}", _hardware_line(prov),
             f"- versions: {json.dumps(prov['versions'])}", "",
             "Each respondent is a websocket client speaking Streamlit's protocol (no browser), "
             f"answering {2 * args.per_class} trials through the trial component with a think time "
             f"of {args.think} +/- {args.jitter} s, fetching each image over HTTP once and "
             f"preloading the next ones as a browser does; {100 * args.double_click:.0f} % of "
             "answers are sent twice. A client that gets an error page instead of the next "
             "image reloads its link (as a person would; at most 3 times) and goes on from the next "
             "unanswered trial; server_error_pages counts those, refused_pressed_again the answers "
             "refused with a reason (a busy database) and sent again, lost the clicks whose answer "
             "never reached the database. Latency = answer sent -> next trial's script run "
             "finished and its image in the cache. server_cpu_ms_per_answer = the servers' CPU "
             "seconds over the level / answers saved. The load generator runs on the same machine as the "
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
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    prov = provenance(["python", "benchmarks/study_load.py", *argv],
                      packages=(*DEFAULT_PACKAGES, "websockets"), settings=settings)
    work = Path(tempfile.mkdtemp(prefix="study_load_"))
    write_patterns(work / "real", args.per_class + 2, 64, noise=20, seed=1)
    write_patterns(work / "fake", args.per_class + 2, 64, noise=20, seed=2)
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
    atomic.write_json(out.with_suffix(".json"), {"runs": runs})
    atomic.write_text(out.with_suffix(".md"), "\n\n".join(markdown(r["rows"], r["provenance"]) for r in runs))
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
