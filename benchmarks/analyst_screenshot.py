"""Screenshot of the analyst page on a simulated study, taken by a real browser (Debian Chromium
through Playwright): results/analyst_page.png.

Builds a study in a temporary folder (procedural patterns as "real" and noisier ones as
"generated", 2 catch trials), fills it with 60 simulated respondents through `simulate` (2 of them
fail a catch trial, so the exclusion counts show), serves it with `python -m study_app analyst`
(the analyst's own server) and an analyst password in the environment, opens it, types the
password, waits for the page to finish and saves a full-page screenshot.

  python benchmarks/analyst_screenshot.py --out results/analyst_page.png
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._study_server import start_server, stop_server, write_patterns  # noqa: E402
from inkwash.atomic import write_text  # noqa: E402
from inkwash.provenance import provenance  # noqa: E402
from study_app.config import StudyConfig  # noqa: E402
from study_app.create import create_study  # noqa: E402
from study_app.simulate import SimulateConfig, simulate  # noqa: E402
from study_app.store import Store  # noqa: E402

PASSWORD = "screenshot-only"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "results" / "analyst_page.png")
    p.add_argument("--port", type=int, default=8650)
    p.add_argument("--respondents", type=int, default=60)
    args = p.parse_args(argv)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    # Before anything is written, so the commit is not marked dirty by our own output.
    prov = provenance(["python", "benchmarks/analyst_screenshot.py", *(argv or sys.argv[1:])])
    work = Path(tempfile.mkdtemp(prefix="analyst_shot_"))
    url = f"sqlite:///{work / 'study.db'}"
    write_patterns(work / "real", 30, 96, noise=8, seed=1)
    write_patterns(work / "fake", 30, 96, noise=25, seed=2)
    create_study(StudyConfig(name="demo-sim", real=work / "real", fake=[f"paper={work / 'fake'}"],
                             db=url, catch=2, image_dir=work / "images"))
    store = Store(url)
    simulate(store, SimulateConfig(study="demo-sim", respondents=args.respondents - 2,
                                   accuracy=0.55, seed=7))
    simulate(store, SimulateConfig(study="demo-sim", respondents=2, accuracy=0.55,
                                   catch_accuracy=0.0, seed=8))
    store.close()
    server = None
    try:
        server = start_server(url, "demo-sim", args.port, env={"STUDY_ANALYST_PASSWORD": PASSWORD},
                              verb="analyst")
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium,
                                         headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.goto(f"http://127.0.0.1:{args.port}/")
            box = page.get_by_label("Analyst password", exact=True)
            box.wait_for(timeout=90_000)
            box.fill(PASSWORD)
            box.press("Enter")
            page.get_by_text("Downloads").wait_for(timeout=180_000)
            page.locator('[data-testid="stImage"] img').first.wait_for(timeout=60_000)
            # Streamlit scrolls an inner container, so a "full page" shot needs a viewport as tall
            # as that container's content.
            height = page.evaluate("Math.max(...Array.from(document.querySelectorAll("
                                   "'[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"]'"
                                   ")).map(e => e.scrollHeight))")
            page.set_viewport_size({"width": 1100, "height": int(height) + 80})
            page.wait_for_timeout(3000)      # let the last images and charts paint
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    md = write_provenance(args.out, prov, args.respondents, chromium)
    print(f"wrote {args.out} and {md}")
    return 0


def write_provenance(out: Path, prov: dict, respondents: int, chromium: str) -> Path:
    """`<out>.md` beside the screenshot: how it was made (command, commit, hardware, date)."""
    hw = prov["hardware"]
    text = "\n".join([
        f"# {out.name}: how it was made", "",
        "A screenshot of the analyst page (its own server, `python -m study_app analyst`) taken by a",
        f"real browser: Debian's Chromium driven by Playwright (`executable_path={chromium}`, headless).", "",
        f"- command: `{prov['command']}`",
        f"- commit: `{prov['commit']}`",
        f"- hardware: {hw['cpu']}, {hw['cpu_cores']} cores, GPU: {hw['gpu']}",
        f"- load average at start: {', '.join(f'{x:.2f}' for x in prov.get('load_average') or []) or 'unknown'}",
        f"- date: {prov['date']}", "",
        "The script builds a throw-away study in a temporary folder (30 procedural stripe patterns as",
        "\"real\", 30 noisier ones as \"generated\" by a model named `paper`, 2 catch trials), fills it with",
        f"{respondents} respondents from `study_app.simulate` ({respondents - 2} answering each trial correctly "
        "with probability 0.55,",
        "2 failing their catch trials so the exclusion counts show), serves it with `python -m study_app analyst`",
        "and `STUDY_ANALYST_PASSWORD` set, opens it, types the password, waits for the Downloads section",
        "and saves the whole page. Every number on it was computed by `study_app.analysis` from that",
        "simulated data; the page itself says the data are simulated.", ""])
    md = out.with_suffix(".md")
    write_text(md, text)
    return md


if __name__ == "__main__":
    sys.exit(main())
