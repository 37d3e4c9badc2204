#!/usr/bin/env bash
# Regenerate the results/ files, one benchmark after another, at the commit of this checkout.
#
#   bash benchmarks/regenerate_all.sh RUNS_DIR [QUALITY_RUNS] [PEER_RUN]
#
# Run it on an idle machine from a clean checkout (the provenance of every file records the commit,
# with "-dirty" when tracked files differ, and the load average). The scripts write into results/ of
# this checkout; run it in a separate worktree and copy results/ back when the tree there must stay
# clean of the files it writes (git update-index --skip-worktree on results/ keeps the commit clean).
#
# RUNS_DIR: a new folder for `make demo`'s runs (pipeline_bench --keep); the design and studio
#   benchmarks use its exported demo model.
# QUALITY_RUNS: quality_bench's runs folder; finished runs there are scored again (--reuse), missing
#   ones are trained. PEER_RUN: the peer FastGAN's samples (quality_bench --peer), made outside the
#   repository. QUALITY_NOTES (environment): a file of quality_bench --note lines, one per line.
# PY (environment): the interpreter of the benchmarks (default python3; pipeline_bench uses .venv).
# Each command's start, end and exit code go to RUNS_DIR.log; a failing command does not stop the rest.
set -u
RUNS=${1:?usage: regenerate_all.sh RUNS_DIR [QUALITY_RUNS] [PEER_RUN]}
QUALITY_RUNS=${2:-runs/quality}
PEER=${3:-}
PY=${PY:-python3}
LOG="$RUNS.log"
MODEL="$RUNS/demo/export/generator.onnx"
export PYTHONPATH=.

step() {
  local start rc
  start=$(date -u +%FT%TZ)
  echo "== $start $*" | tee -a "$LOG" >&2
  "$@"
  rc=$?
  echo "   $(date -u +%FT%TZ) exit $rc (load $(cut -d' ' -f1-3 /proc/loadavg)): $*" | tee -a "$LOG" >&2
}

[ -x .venv/bin/python ] || make setup
step "$PY" benchmarks/pipeline_bench.py --setup --demo --test --copy --keep "$RUNS"
step "$PY" benchmarks/train_bench.py --warmup 2 --iters 20
quality=("$PY" benchmarks/quality_bench.py --reuse --runs-dir "$QUALITY_RUNS" --threads 1 --train-threads 2)
[ -n "$PEER" ] && quality+=(--peer "$PEER")
if [ -n "${QUALITY_NOTES:-}" ]; then  # a file: one --note line of quality_bench per line
  while IFS= read -r note; do [ -n "$note" ] && quality+=(--note "$note"); done < "$QUALITY_NOTES"
fi
step "${quality[@]}"
step "$PY" benchmarks/studio_bench.py
step "$PY" benchmarks/studio_screenshot.py "$MODEL"
step "$PY" benchmarks/metrics_bench.py --n 1000
step "$PY" benchmarks/sample_bench.py
step "$PY" benchmarks/data_bench.py --reps 2 --demo-full
step "$PY" benchmarks/design_bench.py --model "$MODEL"
step "$PY" benchmarks/near_duplicates_bench.py
step "$PY" benchmarks/analyst_screenshot.py
step "$PY" benchmarks/study_load.py --levels 20,40,60
step env STUDY_LOAD_APPEND=1 "$PY" benchmarks/study_load.py --levels 60 --db postgres --servers 2
# Pictures that are not benchmarks: the study's respondent pages (taken by the browser tests) and the
# demo set's contact sheet (written by prepare); their READMEs record command, commit and date by hand.
step env STUDY_SCREENSHOTS_DIR=results/study_screenshots CI=true "$PY" -m pytest -q \
  tests/study_app/test_browser.py tests/study_app/test_browser_integrity.py
step "$PY" -m train prepare --out "$RUNS/contact" --resolution 128 --quiet
cp "$RUNS/contact/contact_sheet.png" results/demo_contact_sheet.png
