"""python -m evalkit VERB ...: one verb per metric of evalkit.table (fid, is, kid, msssim, c2st, ...), features,
and compare | table4 | critic-vs-human.

Arguments -> EvalConfig -> evalkit.measure -> one result. With --json, stdout carries only one JSON
object; progress bars, warnings and text for people go to stderr. Bad input: one line, exit 2.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
from pathlib import Path

from evalkit.config import EvalConfig
from evalkit.table import METRICS
from inkwash import cli

INPUT_HELP = "folder of images | .npz (uint8 N,H,W,3) | .onnx generator"


def _common_args(p: argparse.ArgumentParser, inputs: dict[str, str], inception: bool) -> None:
    """Inputs and the flags every metric verb (and features) shares."""
    from train.device import DEVICES
    d = EvalConfig
    for name, what in inputs.items():
        p.add_argument(name, type=Path, help=f"{what}: {INPUT_HELP}")
    p.add_argument("-n", "--n", type=int, default=d.n,
                   help="images per input: a seeded subset of a folder/.npz, the sample count of an .onnx")
    p.add_argument("--seed", type=int, default=d.seed, help="sampling seed (ONNX latents, subsets, MS-SSIM pairs)")
    p.add_argument("--json", action="store_true", help="print only one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--device", default=d.device, choices=DEVICES,
                   help="where the network runs" if inception else "where an .onnx input is sampled")
    p.add_argument("--batch-size", type=cli.positive_int, default=d.batch_size,
                   help="images per Inception forward" if inception else "images per sampling / pair batch")
    if inception:
        p.add_argument("--inception-weights", type=Path, default=d.inception_weights,
                       help="FID Inception weights (.pth); else $EVALKIT_INCEPTION_WEIGHTS, the torch hub cache, "
                            "then a download")
        p.add_argument("--no-cache", dest="cache", action="store_false", help="do not read/write the feature cache")


def metric_args(name: str, p: argparse.ArgumentParser) -> None:
    """The arguments of a metric's verb: its inputs, the common flags and the metric's own options."""
    m = METRICS[name]
    inputs = {"A": "the real set", "B": "the generated set"} if m.against_real else {"A": "the set measured"}
    _common_args(p, inputs, m.needs_inception)
    if m.paired:
        p.add_argument("--resolution", type=cli.positive_int, default=EvalConfig.resolution,
                       help="px: both sets are centre-cropped and resized to R x R alike (LANCZOS); they must share "
                            "one format, colour mode and size before that")
    defaults = m.defaults()
    for o in m.options:
        p.add_argument(o.flag, dest=o.dest, type=o.type, default=defaults[o.dest], help=o.help)


def _config(verb: str, args: argparse.Namespace, option_dests: list[str]) -> EvalConfig:
    v = vars(args).copy()
    inputs = [v.pop(k) for k in ("A", "B") if k in v]
    options = {k: v.pop(k) for k in option_dests}
    return EvalConfig(verb=verb, inputs=inputs, options=options, **v)


def metric_run(name: str, args: argparse.Namespace) -> int:
    from evalkit import measure
    m = METRICS[name]
    cfg = _config(name, args, [o.dest for o in m.options])
    result = measure.measure(cfg, m)
    print(json.dumps(result) if cfg.json else measure.human(result, m))
    return 0


def features_args(p: argparse.ArgumentParser) -> None:
    _common_args(p, {"A": "the set"}, inception=True)
    p.add_argument("--out", type=Path, required=True, help="the .npz to write")


def features_run(args: argparse.Namespace) -> int:
    from evalkit import measure
    cfg = _config("features", args, [])
    result = measure.extract(cfg)
    print(json.dumps(result) if cfg.json else measure.human(result, None))
    return 0


def _metric_verb(name: str) -> cli.Verb:
    m = METRICS[name]
    inputs = "data/real runs/paper/export/generator.onnx" if m.against_real else "runs/paper/export/generator.onnx"
    example = f"python -m evalkit {name} {inputs} -n 10000 --json"
    if m.paired:
        example = f"python -m evalkit {name} data/real samples/ --resolution 64 --json"
    return cli.Verb(name, m.help, functools.partial(metric_args, name), functools.partial(metric_run, name),
                    description=f"{m.help}. {m.definition}", example=example)


def _module_verb(name: str, module: str, help: str, description: str, example: str) -> cli.Verb:
    """A verb whose module (evalkit.compare, ...) has configure(parser) and run(args); imported when it runs."""
    return cli.Verb(name, help, lambda p: importlib.import_module(module).configure(p),
                    lambda args: importlib.import_module(module).run(args), description=description, example=example)


COMMAND = cli.Command(
    prog="python -m evalkit",
    description="IS/FID/KID (torch-fidelity's definitions), MS-SSIM diversity (pytorch-msssim's), the "
                "weights-free C2ST, Laplacian SWD and spectral score, and the other metrics of evalkit.table, of "
                "image folders, .npz files or ONNX generators; model comparisons (the paper's Table 4) and "
                "critic-versus-human rankings.",
    verbs=[*(_metric_verb(name) for name in METRICS),
           cli.Verb("features", "write pool3/logits features of A to --out F.npz", features_args, features_run,
                    example="python -m evalkit features data/real --out real_feats.npz"),
           _module_verb("compare", "evalkit.compare", "compare trained runs as in the paper's Table 4",
                        "Compare trained runs as in the paper's Table 4: training time, generation time, the "
                        "metrics of evalkit.table, memorisation, with provenance and plots. Class-conditional "
                        "runs (alone or mixed with unconditional ones) get the pooled row (N samples, labels in "
                        "the real classes' proportions) and one row per class in compare_per_class.* (that "
                        "class's samples vs its real subfolder; small per-class N biases FID and IS, and a "
                        "metric that cannot run on a class reads 'not computed'). Stages and progress bars go "
                        "to stderr.",
                        "python -m evalkit compare runs/paper runs/dcgan runs/mlp --real data/patterns --n 10000 "
                        "--out results/compare"),
           _module_verb("table4", "evalkit.table4", "train, export and compare every Table 4 model",
                        "Train every model of train.models with table4=True with its same-named preset on the "
                        "same data, export each to ONNX and compare them (the paper's Table 4). The defaults are "
                        "the pinned demo configuration, about 20 minutes on 2 idle CPU cores.",
                        "python -m evalkit table4 --data patterns/ --resolution 256 --iters 16000 --n 10000 "
                        "--pairs 1000 --batch-size preset --device cuda --out results/table4_gpu"),
           _module_verb("critic-vs-human", "evalkit.critic_human", "does the critic rank images as people do?",
                        "Score every study image with a run's critic; Spearman correlation with the human fool "
                        "rate.", "python -m evalkit critic-vs-human runs/paper exports/study1")])


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv)


if __name__ == "__main__":
    sys.exit(main())
