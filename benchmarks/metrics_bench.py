"""Speed of evalkit's IS+FID+KID pipeline vs torch-fidelity 0.4.0 on the same PNGs, on CPU.

Both sides read the same two folders of N synthetic 256-px PNGs (A = "generated", B = "real"),
extract Inception features of both, and compute IS(A), FID(A, B) and KID(A, B). Both use the same
random-weight network of the real architecture (calibrated BatchNorm; speed does not depend on the
weights' values). The numbers they produce are compared too.

    PYTHONPATH=. python3 benchmarks/metrics_bench.py --n 1000
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import types
from importlib.machinery import ModuleSpec
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _provenance  # noqa: E402
from evalkit import features, inception, metrics  # noqa: E402
from inkwash import atomic  # noqa: E402
from inkwash import provenance as tprov  # noqa: E402


def synthetic_pngs(folder: Path, n: int, size: int, seed: int, style: float) -> None:
    """n PNGs of smooth gradients, blobs and stripes; `style` shifts the distribution."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        a = rng.uniform(0, 2 * np.pi)
        t = np.cos(a) * xx + np.sin(a) * yy
        img = c0 * (1 - t[..., None]) + c1 * t[..., None]
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None] * rng.uniform(-120, 120, 3)
        img += (30 + 40 * style) * np.sin(2 * np.pi * rng.uniform(2, 10) * (xx + style * yy))[..., None]
        img += rng.normal(0, 4 + 10 * style, img.shape)
        Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8)).save(folder / f"{i:06d}.png")


class PNGDataset(torch.utils.data.Dataset):
    """torch-fidelity's folder loader without torchvision: PIL convert('RGB') -> uint8 (3, H, W)."""

    def __init__(self, folder: Path):
        self.files = sorted(str(p) for p in Path(folder).glob("*.png"))

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.files[i]) as im:
            return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)


def import_torch_fidelity():
    """torch-fidelity imports torchvision at import time; give it an import-only stand-in."""
    class Standin(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)

            def refuse(*a, **k):
                raise RuntimeError(f"torchvision stand-in: {name} is not available")
            return type(name, (), {"__init__": refuse, "__call__": refuse})
    for name in ("torchvision", "torchvision.datasets", "torchvision.transforms",
                 "torchvision.transforms.functional", "torchvision.models", "torchvision.utils"):
        if name not in sys.modules:
            mod = Standin(name)
            mod.__path__, mod.__spec__ = [], ModuleSpec(name, None)
            sys.modules[name] = mod
            if "." in name:
                parent, child = name.rsplit(".", 1)
                setattr(sys.modules[parent], child, mod)
    import torch_fidelity
    return torch_fidelity


def load1() -> float:
    return os.getloadavg()[0]


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_evalkit(a: Path, b: Path, weights: Path, kid_subset: int) -> dict:
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    fa = features.features_for(a, weights, device="cpu", cache=False)
    fb = features.features_for(b, weights, device="cpu", cache=False)
    t_feat = time.perf_counter() - t0
    t = time.perf_counter()
    isc = metrics.inception_score(fa["logits"])
    t_is = time.perf_counter() - t
    t = time.perf_counter()
    fid = metrics.fid(fa["pool3"], fb["pool3"])
    t_fid = time.perf_counter() - t
    t = time.perf_counter()
    kid = metrics.kid(fa["pool3"], fb["pool3"], subset_size=kid_subset)
    t_kid = time.perf_counter() - t
    return {"features_seconds": t_feat, "is_seconds": t_is, "fid_seconds": t_fid, "kid_seconds": t_kid,
            "total_seconds": time.perf_counter() - t0, "cpu_seconds": cpu_seconds() - c0, "is": isc["mean"], "fid": fid["value"], "kid": kid["mean"]}


def run_torch_fidelity(a: Path, b: Path, weights: Path, kid_subset: int) -> dict:
    tf = import_torch_fidelity()
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    out = tf.calculate_metrics(input1=PNGDataset(a), input2=PNGDataset(b), cuda=False, isc=True, fid=True, kid=True,
                               kid_subset_size=kid_subset, feature_extractor_weights_path=str(weights),
                               cache=False, verbose=False)
    total = time.perf_counter() - t0
    return {"total_seconds": total, "cpu_seconds": cpu_seconds() - c0, "is": out["inception_score_mean"], "fid": out["frechet_inception_distance"],
            "kid": out["kernel_inception_distance_mean"]}


def write(stem: Path, rows: list[dict], prov: dict, notes: list[str]) -> None:
    """results/<stem>.json (rows + provenance) and .md (provenance, notes, table)."""
    atomic.write_json(stem.with_suffix(".json"), {"provenance": prov, "rows": rows, "notes": notes})
    cols = list(rows[0])
    lines = [f"# {stem.name}", "", f"- command: `{prov['command']}`", f"- commit: {prov['commit']}",
             f"- hardware: {prov['hardware']}", f"- load average: {prov['load_average']}", f"- date: {prov['date']}",
             f"- versions: {prov['versions']}", ""]
    lines += [f"- {n}" for n in notes] + ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    fmt = lambda v: f"{v:.6g}" if isinstance(v, float) else str(v)
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    atomic.write_text(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines[-len(rows) - 2:]))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[1000], help="images per set (A and B)")
    p.add_argument("--size", type=int, default=256, help="PNG side in px")
    p.add_argument("--no-torch-fidelity", dest="tf", action="store_false", help="skip the side-by-side run")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "metrics_bench")
    args = p.parse_args(argv)
    rows, notes = [], [
        "Both libraries run on the CPU here." + (" No GPU on this machine, so GPU rows are missing."
                                                  if tprov.gpu_names() == "none" else ""),
        "Random-weight FID Inception of the real architecture (BN calibrated on 8 synthetic images); speed does "
        "not depend on the weights' values, the metric values here are not meaningful numbers.",
        "Each implementation reads two folders of N synthetic PNGs (A, B) and computes IS(A), FID(A,B), "
        "KID(A,B); images/s = 2N / total seconds. torch-fidelity 0.4.0 runs with cuda=False, cache=False, its "
        "default DataLoader workers, fed by a PIL Dataset equal to its folder loader (its own needs torchvision).",
        "load1 is the 1-minute load average when each run started: other jobs on the machine make absolute "
        "times noisy. Compare the ratios measured in one run; speedup_cpu (CPU seconds of "
        "the process and its reaped DataLoader workers) is less sensitive to other agents' load than wall time.",
    ]
    with tempfile.TemporaryDirectory(prefix="metrics_bench_") as tmp:
        tmp = Path(tmp)
        calib = np.stack([np.random.default_rng(i).integers(0, 256, (48, 48, 3), dtype=np.uint8) for i in range(8)])
        weights = tmp / "random-inception.pth"
        torch.save(inception.random_state_dict(calib, seed=0), weights)
        for n in args.n:
            a, b = tmp / f"a{n}", tmp / f"b{n}"
            synthetic_pngs(a, n, args.size, seed=1, style=0.0)
            synthetic_pngs(b, n, args.size, seed=2, style=1.0)
            kid_subset = min(1000, n)
            row = {"n_per_set": n, "px": args.size}
            row["load1_evalkit"] = load1()
            ours = run_evalkit(a, b, weights, kid_subset)
            row.update({"evalkit_img_per_s": 2 * n / ours["total_seconds"],
                        "evalkit_feature_img_per_s": 2 * n / ours["features_seconds"],
                        "evalkit_total_s": ours["total_seconds"], "evalkit_cpu_s": ours["cpu_seconds"], "evalkit_is_s": ours["is_seconds"],
                        "evalkit_fid_s": ours["fid_seconds"], "evalkit_kid_s": ours["kid_seconds"]})
            print(f"evalkit N={n}: {row['evalkit_img_per_s']:.2f} img/s", file=sys.stderr, flush=True)
            if args.tf:
                row["load1_torch_fidelity"] = load1()
                theirs = run_torch_fidelity(a, b, weights, kid_subset)
                row.update({"torch_fidelity_img_per_s": 2 * n / theirs["total_seconds"],
                            "torch_fidelity_total_s": theirs["total_seconds"],
                            "torch_fidelity_cpu_s": theirs["cpu_seconds"],
                            "speedup_wall": theirs["total_seconds"] / ours["total_seconds"],
                            "speedup_cpu": theirs["cpu_seconds"] / ours["cpu_seconds"]})
                for k in ("is", "fid", "kid"):
                    row[f"{k}_rel_diff"] = abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-12)
                print(f"torch-fidelity N={n}: {row['torch_fidelity_img_per_s']:.2f} img/s", file=sys.stderr)
            rows.append(row)
            write(args.out, rows, _provenance.provenance(torch_threads=torch.get_num_threads()), notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
