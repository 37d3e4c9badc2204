"""One metric of evalkit.table, or the features, of command-line inputs: the work behind
`python -m evalkit <metric>|features`. Inputs are folders of images, .npz files of uint8 images or
ONNX generators (sampled with -n and --seed); the result is the dict that --json prints."""
from __future__ import annotations

import time

from evalkit import features, imagesets, weights
from evalkit.config import EvalConfig
from evalkit.inception import PREPROCESS_VERSION
from evalkit.table import Metric
from inkwash.cli import UserError


def _check(cfg: EvalConfig) -> None:
    if cfg.n is not None and cfg.n < 2:
        raise UserError(f"-n {cfg.n}: must be >= 2")
    for src in cfg.inputs:
        features.check_exists(src)


def _head(cfg: EvalConfig, metric: Metric | None) -> dict:
    # Seeds: the sampling seed, and every option of the metric that is a seed (--rng-seed -> "rng").
    seeds = {"sampling": cfg.seed}
    for o in metric.options if metric is not None else ():
        if o.dest.endswith("_seed"):
            seeds[o.dest.removesuffix("_seed")] = cfg.options.get(o.dest, metric.defaults()[o.dest])
    return {"metric": cfg.verb, "inputs": [str(p) for p in cfg.inputs], "seeds": seeds}


def _feature_sets(cfg: EvalConfig, result: dict) -> list[dict]:
    """Inception features of every input; records the weights, device and cache use in `result`."""
    path, sha = weights.resolve_weights(cfg.inception_weights)
    feats = [features.features_for(src, path, n=cfg.n, seed=cfg.seed, device=cfg.device,
                                   batch_size=cfg.batch_size, cache=cfg.cache, progress=not cfg.quiet)
             for src in cfg.inputs]
    result.update(weights_path=str(path), weights_sha256=sha, weights_verified=weights.weights_verified(sha),
                  device=feats[0]["device"], dtype="float32 network, float64 statistics", tf32=False,
                  cache_hit=[f["cache_hit"] for f in feats], feature_seconds=sum(f["seconds"] for f in feats))
    return feats


def measure(cfg: EvalConfig, metric: Metric) -> dict:
    """The metric of the inputs (A = real and B = generated for metrics against a real set)."""
    _check(cfg)
    t0 = time.perf_counter()
    result = _head(cfg, metric)
    if metric.needs_inception:
        sets = [f[metric.reads] for f in _feature_sets(cfg, result)]
    elif metric.paired:  # one checked decode/resize path for both sides
        *sets, result["images"] = imagesets.load_pair(cfg.verb, *cfg.inputs, cfg.resolution, n=cfg.n, seed=cfg.seed,
                                                      device=cfg.device, batch_size=cfg.batch_size)
    else:
        sets = [features.load_images(src, n=cfg.n, seed=cfg.seed, device=cfg.device, batch_size=cfg.batch_size)
                for src in cfg.inputs]
    result.update(metric(*sets, values={"seed": cfg.seed, "batch_size": cfg.batch_size, **cfg.options}))
    result["seconds"] = time.perf_counter() - t0
    return result


def extract(cfg: EvalConfig) -> dict:
    """Write the pool3 and logits features of the one input to `cfg.out` (.npz)."""
    _check(cfg)
    t0 = time.perf_counter()
    result = _head(cfg, None)
    (f,) = _feature_sets(cfg, result)
    features.save_npz(cfg.out, pool3=f["pool3"], logits=f["logits"], weights_sha256=result["weights_sha256"],
                      preprocess=PREPROCESS_VERSION, source=str(cfg.inputs[0]))
    result.update(out=str(cfg.out), n=len(f["pool3"]), seconds=time.perf_counter() - t0)
    return result


def human(result: dict, metric: Metric | None) -> str:
    """For people: the metric's own table (`Metric.human`), else one line: the value (+- std) and the
    metric's summary (the summary alone for a metric without one value, such as precision/recall), or
    where the features went."""
    if metric is None:
        return f"features of {result['n']} images -> {result['out']}"
    if metric.human is not None:
        return metric.human(result)
    summary = metric.summary.format(**result)
    if "value" not in result:
        return f"{result['metric']}: {summary}"
    pm = f" +- {result['std']:.6g}" if "std" in result else ""
    return f"{result['metric']}: {result['value']:.6g}{pm} ({summary})"
