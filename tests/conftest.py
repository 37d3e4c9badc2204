"""Shared test rules: GPU tests skip on CPU with a reason; in CI a skipped browser or database
test is a failure (those must run there)."""
from __future__ import annotations

import os

import pytest
import torch

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and ({"browser", "db"} & set(item.keywords)):
        report.outcome = "failed"
        report.longrepr = f"browser/database test skipped in CI (must run there): {report.longrepr}"
