"""study_app.plan: balanced, reproducible trial plans; pools too small are refused."""
from __future__ import annotations

import collections

import pytest

from study_app.config import StudyOptions
from study_app.plan import ImageInfo, PlanError, draw_plan


def _infos(n_real=30, models=("a", "b"), per_model=15, practice=2, catch=2) -> list[ImageInfo]:
    out = [ImageInfo(f"r{i:02d}", False, None, "main") for i in range(n_real)]
    out += [ImageInfo(f"f{m}{i:02d}", True, m, "main") for m in models for i in range(per_model)]
    out += [ImageInfo(f"p{i}", bool(i % 2), "a" if i % 2 else None, "practice") for i in range(practice)]
    out += [ImageInfo(f"c{i}", bool(i % 2), None, "catch") for i in range(catch)]
    return out


def test_plan_is_balanced_even_across_models_and_reproducible():
    opts = StudyOptions(practice=2, catch=2)
    pool = _infos(models=("a", "b"))
    kinds = {i.image_id: i for i in pool}
    counts = collections.Counter()
    for seed in range(40):
        plan = draw_plan(pool, opts, seed)
        assert plan == draw_plan(pool, opts, seed)
        assert [kinds[i].kind for i in plan[:2]] == ["practice", "practice"]
        main = [kinds[i] for i in plan[2:] if kinds[i].kind == "main"]
        assert sum(not i.is_generated for i in main) == 25 and len(main) == 50
        per_model = collections.Counter(i.model for i in main if i.is_generated)
        assert sorted(per_model.values()) == [12, 13]
        counts[per_model["a"]] += 1
        assert sum(kinds[i].kind == "catch" for i in plan) == 2 and len(set(plan)) == len(plan)
    assert set(counts) == {12, 13}   # the extra image goes to either model
    assert draw_plan(pool, opts, 1) != draw_plan(pool, opts, 2)


def test_plan_refuses_a_pool_that_is_too_small():
    with pytest.raises(PlanError, match="needs 25 real"):
        draw_plan(_infos(n_real=10), StudyOptions(practice=2, catch=2), 0)
    with pytest.raises(PlanError, match="model 'a' has 5 images; a respondent needs 13"):
        draw_plan(_infos(models=("a",), per_model=5), StudyOptions(per_class=13), 0)
