"""Design studio speed, click to pixels in a real browser: a grid of 16 at 64 and 256 px, and a design sheet.

    PYTHONPATH=. python benchmarks/studio_bench.py          # -> results/studio_bench.{json,md}

For each resolution the paper generator with random weights (speed does not depend on the weights;
`sample_bench.random_run`) is exported and served by `python -m export studio MODEL --device cpu`;
Debian's Chromium (Playwright) opens it and, per round:
- presses *Next* and waits until all 16 new tiles are decoded in the page (new seeds: the model runs,
  once, for the whole grid);
- presses *Previous* and waits again (tiles already drawn: served from the cache, no inference);
- opens a tile not opened before, presses *Design sheet PDF* and waits until the download is saved
  (made on click by `python -m export design`'s code: generation, seamless tile, garments, PDF).
Each figure is the median over rounds, with the worst beside it. In-process timings of the parts
(one batch of 16, the sheet's steps) say where the time goes. Goals (issue 18, 2 CPU cores): grid of
16 at 64 px < 0.5 s, at 256 px < 3 s; a design sheet < 6 s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _provenance  # noqa: E402
from benchmarks._studio import (CHROMIUM, FLAGS, button, free_port, grid_loaded, start_studio,  # noqa: E402
                                stop_studio)
from inkwash.provenance import load_average  # noqa: E402

GOALS = {("grid", 64): 0.5, ("grid", 256): 3.0, ("sheet", 64): 6.0, ("sheet", 256): 6.0}
TIMEOUT_MS = 300_000


def _row(resolution: int, what: str, goal_key: str | None, seconds: list[float], note: str) -> dict:
    med = statistics.median(seconds)
    goal = GOALS.get((goal_key, resolution)) if goal_key else None
    return {"resolution": resolution, "measure": what, "rounds": len(seconds), "median_seconds": round(med, 3),
            "worst_seconds": round(max(seconds), 3), "goal_seconds": goal,
            "meets_goal": None if goal is None else med < goal, "how": note}


def browser_rounds(model: Path, rounds: int, sheets: int, work: Path) -> dict[str, list[float]]:
    """Click-to-pixels seconds of `rounds` new grids, cached grids and `sheets` cold design sheets."""
    from playwright.sync_api import sync_playwright
    port = free_port()
    server = start_studio([model], work / f"desks{port}", port, log_path=work / f"studio{port}.log")
    times: dict[str, list[float]] = {"new": [], "cached": [], "sheet": []}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://127.0.0.1:{port}/?desk=bench")
            shown = grid_loaded(page, 16, TIMEOUT_MS)
            button(page, "studio_next").click()                 # warm-up page (first session run)
            shown = grid_loaded(page, 16, TIMEOUT_MS, after=shown)
            for _ in range(rounds):
                t0 = time.perf_counter()
                button(page, "studio_next").click()
                new = grid_loaded(page, 16, TIMEOUT_MS, after=shown)
                times["new"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                button(page, "studio_prev").click()
                back = grid_loaded(page, 16, TIMEOUT_MS, after=new)
                times["cached"].append(time.perf_counter() - t0)
                assert back == shown, "Previous did not bring the same tiles back"
                button(page, "studio_next").click()
                shown = grid_loaded(page, 16, TIMEOUT_MS, after=back)
            for i in range(sheets):
                button(page, f"tile_open_{i}_").click()
                page.get_by_role("button", name="Design sheet PDF").wait_for()
                t0 = time.perf_counter()
                with page.expect_download(timeout=TIMEOUT_MS) as dl:
                    page.get_by_role("button", name="Design sheet PDF").click()
                dl.value.path()                                      # the whole file is saved
                times["sheet"].append(time.perf_counter() - t0)
                page.goto(f"http://127.0.0.1:{port}/?desk=bench")     # a reload: the desk brings the grid back
                grid_loaded(page, 16, TIMEOUT_MS)
            browser.close()
    finally:
        stop_studio(server)
    return times


def parts(model: Path, rounds: int) -> dict[str, list[float]]:
    """In-process seconds of the pieces: one batch of 16 new tiles (+ PNG), and a sheet's steps."""
    from export import design, sheets
    from export.studio import catalog
    from export.studio.recipes import Recipe, grid
    from export.studio.render import Renderer
    m = catalog.open_model(model, "cpu")
    out: dict[str, list[float]] = {"batch16": [], "png16": [], "make_design": [], "compose": [], "pdf": []}
    rd = Renderer()
    for k in range(rounds + 1):
        recipes = [Recipe(m.prefix, None, z) for z in grid("browse", 16, 1000 + 16 * k)]
        t0 = time.perf_counter()
        rd.patterns(m, recipes)
        t1 = time.perf_counter()
        rd.grid_pngs(m, recipes)
        t2 = time.perf_counter()
        if k:                                   # the first round warms the session up
            out["batch16"].append(t1 - t0)
            out["png16"].append(t2 - t1)
    cfg = design.DesignConfig(model=model)
    names = design.check_config(cfg)
    for k in range(max(1, rounds // 2)):
        t0 = time.perf_counter()
        content, _, _ = design.make_design(m.sampler, cfg, 500 + k, names, m.sha256)
        t1 = time.perf_counter()
        page = sheets.compose_sheet(content)
        t2 = time.perf_counter()
        sheets.pdf_bytes(page, content.design_id)
        out["make_design"].append(t1 - t0)
        out["compose"].append(t2 - t1)
        out["pdf"].append(time.perf_counter() - t2)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    p.add_argument("--rounds", type=int, default=5, help="new and cached grids per resolution")
    p.add_argument("--sheets", type=int, default=3, help="cold design sheets per resolution")
    p.add_argument("--results-dir", type=Path, default=None, help="where studio_bench.{json,md} go; none: results/")
    args = p.parse_args(argv)
    from benchmarks.sample_bench import random_run
    from export.onnx_export import export_run
    load_start = load_average()
    rows = []
    with tempfile.TemporaryDirectory(prefix="studio_bench_") as tmp:
        work = Path(tmp)
        for res in args.resolutions:
            model = export_run(random_run(work, res))
            t = browser_rounds(model, args.rounds, args.sheets, work)
            rows += [_row(res, "grid of 16, new tiles", "grid", t["new"],
                          "click Next -> all 16 new tiles decoded in Chromium (one model batch)"),
                     _row(res, "grid of 16, tiles already drawn", None, t["cached"],
                          "click Previous -> the page's 16 tiles back (cache, no inference)"),
                     _row(res, "design sheet PDF", "sheet", t["sheet"],
                          "click Design sheet PDF on a tile never opened -> download saved")]
            for name, secs in parts(model, args.rounds).items():
                rows.append(_row(res, f"part: {name}", None, secs, "in-process, same machine, no browser"))
    load_end = load_average()
    busy = max([*load_start, *load_end]) > (_provenance.provenance()["hardware"]["cores"] or 1)
    notes = ["Goals (issue 18, on 2 CPU cores): grid of 16 at 64 px < 0.5 s, at 256 px < 3 s; a design sheet < 6 s.",
             "The model is the paper generator with random weights, exported and parity-checked: speed does not "
             "depend on the weights.",
             f"Load average at start {load_start}, at end {load_end}."]
    if busy:
        notes.append("PROVISIONAL: the machine was shared during this run (load average above its core count); "
                     "rerun on an idle machine before quoting these figures.")
    _provenance.write_bench("studio_bench", rows, {"notes": notes, "load_average_at_end": load_end},
                            results_dir=args.results_dir)
    print(_provenance.markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
