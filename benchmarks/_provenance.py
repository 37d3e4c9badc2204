"""Provenance and a small writer for benchmark results: results/<name>.json and results/<name>.md.

    from benchmarks._provenance import write_bench, provenance
    json_path, md_path = write_bench("data_bench", rows, {"notes": ["..."], "speedup": 1.9})

Every file records the command, git commit, hardware (CPU model, cores, GPU or "none"), load average and
date: inkwash.provenance's record, taken when the results are written.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from inkwash import provenance as tprov
from inkwash.atomic import write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def provenance(**fields) -> dict:
    """inkwash.provenance's record of this run (command, commit, hardware, load average, date, versions),
    plus `fields`. The results files and their readers also use `hardware.cores` and `platform`."""
    prov = tprov.provenance(["python", *sys.argv], **fields)
    prov["hardware"]["cores"] = prov["hardware"]["cpu_cores"]
    prov["platform"] = prov["versions"]["platform"]
    return prov


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return "" if v is None else str(v)


def markdown_table(rows: list[dict]) -> str:
    """Rows (dicts) as a Markdown table; columns in first-seen order."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_bench(name: str, rows: list[dict], extra: dict | None = None,
                results_dir: Path | None = None) -> tuple[Path, Path]:
    """Write results/<name>.json (rows + provenance + extra) and results/<name>.md.

    `extra["notes"]` (a string or a list of strings) becomes the Markdown's notes section; other
    extra keys go to the JSON and to a key/value list in the Markdown.
    """
    extra = dict(extra or {})
    prov = provenance()
    out = Path(results_dir) if results_dir is not None else RESULTS
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    write_text(json_path, json.dumps({"name": name, "provenance": prov, "rows": rows, **extra}, indent=1) + "\n")
    notes = extra.pop("notes", [])
    notes = [notes] if isinstance(notes, str) else list(notes)
    hw = prov["hardware"]
    md = [f"# {name}", "",
          f"- command: `{prov['command']}`", f"- commit: `{prov['commit']}`",
          f"- hardware: {hw['cpu']}, {hw['cores']} cores, {hw['memory_gb']} GB RAM, GPU: {hw['gpu']}",
          f"- load average (1, 5, 15 min) when written: {prov['load_average']}", f"- date: {prov['date']}",
          "- versions: " + ", ".join(f"{k} {v}" for k, v in prov["versions"].items()),
          "", markdown_table(rows), ""]
    if extra:
        md += [f"- {k}: {_fmt(v) if not isinstance(v, (dict, list)) else json.dumps(v)}" for k, v in extra.items()] + [""]
    if notes:
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    write_text(md_path, "\n".join(md))
    return json_path, md_path
