"""python -m evalkit fid|is|kid|msssim|features ... (and compare|table4|critic-vs-human).

Arguments -> EvalConfig -> features/metrics -> one result. With --json, stdout carries only one JSON
object; progress bars, warnings and text for people go to stderr. Bad input: one line, exit 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
import warnings
from pathlib import Path

from evalkit.config import EvalConfig

log = logging.getLogger("evalkit")

DISPATCH = {"compare": "evalkit.compare", "table4": "evalkit.table4", "critic-vs-human": "evalkit.critic_human"}
N_INPUTS = {"fid": 2, "kid": 2, "is": 1, "msssim": 1, "features": 1}
EXAMPLE = "example: python -m evalkit fid data/real runs/paper/export/generator.onnx -n 10000 --json"


def build_parser() -> argparse.ArgumentParser:
    d = EvalConfig
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = argparse.ArgumentParser(prog="python -m evalkit", formatter_class=fmt, epilog=EXAMPLE,
                                description="IS/FID/KID (torch-fidelity's definitions) and MS-SSIM diversity "
                                            "(pytorch-msssim's) of image folders, .npz files or ONNX generators.")
    sub = p.add_subparsers(dest="verb", required=True, metavar="{fid,is,kid,msssim,features,compare,table4,"
                                                               "critic-vs-human}")
    helps = {"fid": "Frechet Inception Distance of A vs B", "kid": "Kernel Inception Distance of A vs B",
             "is": "Inception Score of A", "msssim": "MS-SSIM diversity of A (lower = more diverse)",
             "features": "write pool3/logits features of A to --out F.npz"}
    for verb, help_ in helps.items():
        s = sub.add_parser(verb, help=help_, description=help_, formatter_class=fmt, epilog=EXAMPLE)
        names = ["A", "B"][:N_INPUTS[verb]]
        for name in names:
            s.add_argument(name, type=Path, help="folder of images | .npz (uint8 N,H,W,3) | .onnx generator")
        s.add_argument("-n", "--n", type=int, default=d.n,
                       help="images per input: a seeded subset of a folder/.npz, the sample count of an .onnx")
        s.add_argument("--seed", type=int, default=d.seed, help="sampling seed (ONNX latents, subsets, MS-SSIM pairs)")
        s.add_argument("--json", action="store_true", help="print only one JSON object on stdout")
        s.add_argument("--quiet", action="store_true", help="no progress bars")
        s.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"],
                       help="where the network runs" if verb != "msssim" else "where an .onnx input is sampled "
                       "(MS-SSIM itself runs on the CPU in float64)")
        s.add_argument("--batch-size", type=int, default=d.batch_size,
                       help="images per Inception forward" if verb != "msssim" else "image pairs per MS-SSIM batch")
        if verb == "msssim":
            s.add_argument("--pairs", type=int, default=d.pairs, help="random pairs of distinct images")
            continue
        s.add_argument("--inception-weights", type=Path, default=d.inception_weights,
                       help="FID Inception weights (.pth); else $EVALKIT_INCEPTION_WEIGHTS, the torch hub cache, "
                            "then a download")
        s.add_argument("--no-cache", dest="cache", action="store_false", help="do not read/write the feature cache")
        if verb in ("is", "kid"):
            s.add_argument("--rng-seed", type=int, default=d.rng_seed, help="IS shuffle / KID subsets seed")
        if verb == "is":
            s.add_argument("--splits", type=int, default=d.splits)
        if verb == "kid":
            s.add_argument("--subsets", dest="kid_subsets", type=int, default=d.kid_subsets)
            s.add_argument("--subset-size", dest="kid_subset_size", type=int, default=d.kid_subset_size,
                           help="min(this, N) is used and recorded")
        if verb == "features":
            s.add_argument("--out", type=Path, required=True, help="the .npz to write")
    for verb, module in DISPATCH.items():
        sub.add_parser(verb, help=f"see python -m evalkit {verb} --help ({module})", add_help=False)
    return p


def config_from_args(ns: argparse.Namespace) -> EvalConfig:
    """Namespace -> EvalConfig (inputs A, B gathered into `inputs`)."""
    v = vars(ns).copy()
    inputs = [v.pop(k) for k in ("A", "B") if k in v]
    return EvalConfig(inputs=inputs, **v)


def _check(cfg: EvalConfig) -> None:
    for name, value, low in (("--batch-size", cfg.batch_size, 1), ("--pairs", cfg.pairs, 1), ("-n", cfg.n, 2),
                             ("--splits", cfg.splits, 1), ("--subsets", cfg.kid_subsets, 1),
                             ("--subset-size", cfg.kid_subset_size, 2)):
        if value is not None and value < low:
            raise ValueError(f"{name} {value}: must be >= {low}")


def run(cfg: EvalConfig) -> dict:
    """Compute the verb's result dict (the JSON that --json prints)."""
    from evalkit import features, inception, metrics

    _check(cfg)
    t0 = time.perf_counter()
    result: dict = {"metric": cfg.verb, "inputs": [str(p) for p in cfg.inputs],
                    "seeds": {"sampling": cfg.seed}}
    if cfg.verb == "msssim":
        images_u8 = features.load_images(cfg.inputs[0], n=cfg.n, seed=cfg.seed) \
            if cfg.inputs[0].suffix != ".onnx" else features.open_source(cfg.inputs[0], n=cfg.n, seed=cfg.seed,
                                                                          device=cfg.device,
                                                                          batch_size=cfg.batch_size)
        ms = metrics.ms_ssim_diversity(images_u8, pairs=cfg.pairs, seed=cfg.seed, batch_size=cfg.batch_size)
        result.update(value=ms["mean"], std=ms["std"], sem=ms["sem"], pairs=ms["pairs"], n=ms["n"],
                      label=ms["label"], upsampled=ms["upsampled"], device="cpu", dtype="float64")
        result["seconds"] = time.perf_counter() - t0
        return result

    weights, sha = inception.resolve_weights(cfg.inception_weights)
    feats = [features.features_for(src, weights, n=cfg.n, seed=cfg.seed, device=cfg.device,
                                   batch_size=cfg.batch_size, cache=cfg.cache, progress=not cfg.quiet)
             for src in cfg.inputs]
    result.update(weights_path=str(weights), weights_sha256=sha, weights_verified=inception.weights_verified(sha),
                  device=feats[0]["device"], dtype="float32 network, float64 statistics", tf32=False,
                  cache_hit=[f["cache_hit"] for f in feats],
                  feature_seconds=sum(f["seconds"] for f in feats))
    if cfg.verb == "fid":
        r = metrics.fid(feats[0]["pool3"], feats[1]["pool3"])
        result.update(value=r["value"], n=[r["n_a"], r["n_b"]], small_n_warning=r["small_n_warning"])
    elif cfg.verb == "kid":
        r = metrics.kid(feats[0]["pool3"], feats[1]["pool3"], subsets=cfg.kid_subsets,
                        subset_size=cfg.kid_subset_size, seed=cfg.rng_seed)
        result.update(value=r["mean"], std=r["std"], n=[r["n_a"], r["n_b"]], subset_size=r["subset_size"],
                      subsets=r["subsets"])
        result["seeds"]["rng"] = cfg.rng_seed
    elif cfg.verb == "is":
        r = metrics.inception_score(feats[0]["logits"], splits=cfg.splits, seed=cfg.rng_seed)
        result.update(value=r["mean"], std=r["std"], n=r["n"], splits=r["splits"])
        result["seeds"]["rng"] = cfg.rng_seed
    elif cfg.verb == "features":
        f = feats[0]
        features._save_npz_atomic(cfg.out, pool3=f["pool3"], logits=f["logits"], weights_sha256=sha,
                                  preprocess=features.PREPROCESS_VERSION, source=str(cfg.inputs[0]))
        result.update(out=str(cfg.out), n=len(f["pool3"]))
    result["seconds"] = time.perf_counter() - t0
    return result


def _human(r: dict) -> str:
    if r["metric"] == "features":
        return f"features of {r['n']} images -> {r['out']}"
    pm = f" +- {r['std']:.6g}" if "std" in r else ""
    extra = {"fid": lambda: f"N={r['n']}" + (" (N < 2048: biased, compare at equal N)" if r["small_n_warning"]
                                             else ""),
             "kid": lambda: f"N={r['n']}, subset size {r['subset_size']} x {r['subsets']}",
             "is": lambda: f"N={r['n']}, {r['splits']} splits",
             "msssim": lambda: f"{r['label']}, {r['pairs']} pairs, SEM {r['sem']:.3g}"}[r["metric"]]()
    return f"{r['metric']}: {r['value']:.6g}{pm} ({extra})"


class _StderrHandler(logging.StreamHandler):
    """Bare messages to whatever sys.stderr is now (not the stream at set-up time)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _setup_logging() -> None:
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(h)
    log.setLevel(logging.INFO)
    log.propagate = False
    warnings.showwarning = lambda message, *a, **k: log.warning("warning: %s", message)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DISPATCH:
        try:
            module = importlib.import_module(DISPATCH[argv[0]])
        except ModuleNotFoundError as e:
            print(f"evalkit {argv[0]}: {DISPATCH[argv[0]]} is not available in this checkout ({e})", file=sys.stderr)
            return 2
        return module.main(argv[1:])
    _setup_logging()
    cfg = config_from_args(build_parser().parse_args(argv))
    from evalkit.features import InputError
    from evalkit.inception import WeightsInvalid, WeightsUnavailable
    try:
        result = run(cfg)
    except (WeightsUnavailable, WeightsInvalid, InputError, ValueError) as e:
        print(f"evalkit {cfg.verb}: {e}", file=sys.stderr)
        return 2
    if cfg.json:
        print(json.dumps(result))
    else:
        print(_human(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
