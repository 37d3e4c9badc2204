"""Screenshots of the design studio on a real model, taken by a real browser (Debian Chromium through
Playwright): results/studio.png (Explore, "more like these" around two favourites) and
results/studio_tile.png (one tile's page), with results/studio.md saying how they were made.

  python benchmarks/studio_screenshot.py runs/demo/export/generator.onnx

It serves the model with `python -m export studio MODEL --store TMP`, favourites two tiles of the
first page of seeds, asks for more like them, takes the Explore page, opens the first new tile and
takes its page (tile, repeat, colourway, garments).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._studio import (CHROMIUM, FLAGS, button, free_port, grid_loaded, start_studio,  # noqa: E402
                               stop_studio)
from inkwash.atomic import write_text  # noqa: E402
from inkwash.hashing import sha256_file  # noqa: E402
from inkwash.provenance import provenance  # noqa: E402

WIDTH = 1500


def _full_height(page) -> int:
    """Streamlit scrolls an inner container: a full-page shot needs a viewport as tall as its content."""
    return int(page.evaluate("Math.max(...Array.from(document.querySelectorAll("
                             "'[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"]'"
                             ")).map(e => e.scrollHeight))"))


def _shoot(page, out: Path) -> None:
    page.set_viewport_size({"width": WIDTH, "height": _full_height(page) + 40})
    page.wait_for_timeout(1500)
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)


def take(model: Path, out: Path, favourites: tuple[int, int], port: int) -> dict:
    """Serve `model`, walk to the two pages and save them; returns what the walk chose."""
    from playwright.sync_api import sync_playwright
    store = Path(tempfile.mkdtemp(prefix="studio_shot_"))
    server = start_studio([model], store, port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": WIDTH, "height": 1200})
            page.set_default_timeout(180_000)
            page.goto(f"http://127.0.0.1:{port}/?desk=shot")
            grid_loaded(page, 16)
            for i in favourites:
                button(page, f"tile_fav_{i}_").click()
                page.locator(f'[class*="st-key-tile_fav_{i}_"] button[kind="primary"]').first.wait_for()
            before = grid_loaded(page, 16)
            page.get_by_text("More like these", exact=True).click()
            grid_loaded(page, 16, after=before)
            _shoot(page, out)
            button(page, "tile_open_0_").click()
            page.get_by_role("button", name="Design sheet PDF").wait_for()
            page.locator('[data-testid="stImage"] img').nth(3).wait_for()
            _shoot(page, out.with_name(out.stem + "_tile.png"))
            browser.close()
        return json.loads((store / "shot.json").read_text())
    finally:
        stop_studio(server)
        shutil.rmtree(store, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", type=Path, help="generator.onnx exported by python -m export onnx (with its sidecar)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "studio.png")
    p.add_argument("--favourites", type=int, nargs=2, default=(1, 6), help="tiles of the first page to favourite")
    p.add_argument("--port", type=int, default=None, help="TCP port; none: a free one")
    args = p.parse_args(argv)
    if not args.model.is_file():
        p.error(f"{args.model}: no such model file")
    # Before anything is written, so the commit is not marked dirty by our own output.
    prov = provenance(["python", "benchmarks/studio_screenshot.py", *(argv or sys.argv[1:])])
    desk = take(args.model.resolve(), args.out, tuple(args.favourites), args.port or free_port())
    side = json.loads(args.model.with_suffix(".json").read_text())
    hw = prov["hardware"]
    text = "\n".join([
        f"# {args.out.name}: how it was made", "",
        "Screenshots of the design studio taken by a real browser: Debian's Chromium driven by Playwright",
        f"(`{CHROMIUM}`, headless, {WIDTH} px wide).", "",
        f"- command: `{prov['command']}`", f"- commit: `{prov['commit']}`",
        f"- hardware: {hw['cpu']}, {hw['cpu_cores']} cores, GPU: {hw['gpu']}", f"- date: {prov['date']}",
        f"- model: `{args.model}` ({side.get('name')}, {side.get('resolution')} px, iteration "
        f"{side.get('iteration')}, sha256 `{sha256_file(args.model)[:12]}`)", "",
        f"`{args.out.name}`: Explore after favouriting tiles {args.favourites[0]} and {args.favourites[1]} of "
        "the first page of seeds and pressing *More like these* (16 draws around their mean, spread 0.5).",
        f"`{args.out.stem}_tile.png`: the first of those tiles opened: seamless tile, 3x3 repeat, colourway, "
        "the four garment mock-ups at repeat scale 0.25, downloads and the command for its design sheet.", "",
        "Favourites of the walk: " + ", ".join(f"`{t}`" for t in desk["favourites"]), ""])
    write_text(args.out.with_suffix(".md"), text)
    print(f"wrote {args.out}, {args.out.with_name(args.out.stem + '_tile.png')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
