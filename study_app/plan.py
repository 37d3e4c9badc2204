"""One respondent's trial plan: which images they see, and in which order."""
from __future__ import annotations

import random
from dataclasses import dataclass

from inkwash.cli import UserError

from study_app.config import KINDS, StudyOptions


class PlanError(UserError):
    """A study pool too small for the plan its options ask for."""


@dataclass(frozen=True)
class ImageInfo:
    """What the server knows about one study image (never sent to the browser)."""
    image_id: str
    is_generated: bool
    model: str | None
    kind: str            # main | practice | catch


def draw_plan(pool: list[ImageInfo], options: StudyOptions, seed: int) -> list[str]:
    """One respondent's trial order: practice first, then main + catch trials shuffled together.

    Main trials take `per_class` real images and `per_class` generated ones drawn evenly across
    models (the remainder going to randomly chosen models), each a random subset of its pool.
    Deterministic in `seed` (Python's `random.Random`), so a stored seed reproduces the order.
    """
    rng = random.Random(seed)
    by_kind = {k: sorted((i for i in pool if i.kind == k), key=lambda i: i.image_id) for k in KINDS}
    real = [i.image_id for i in by_kind["main"] if not i.is_generated]
    fakes: dict[str, list[str]] = {}
    for i in by_kind["main"]:
        if i.is_generated:
            fakes.setdefault(i.model or "", []).append(i.image_id)
    models = sorted(fakes)
    if len(real) < options.per_class or not models:
        raise PlanError(f"study pool has {len(real)} real and {len(models)} generator pools; "
                        f"needs {options.per_class} real images and at least one generator")
    quota = {m: options.per_class // len(models) for m in models}
    for m in rng.sample(models, options.per_class % len(models)):
        quota[m] += 1
    main = rng.sample(real, options.per_class)
    for m in models:
        if len(fakes[m]) < quota[m]:
            raise PlanError(f"model {m!r} has {len(fakes[m])} images; a respondent needs {quota[m]}")
        main += rng.sample(fakes[m], quota[m])
    main += rng.sample([i.image_id for i in by_kind["catch"]], options.catch)
    rng.shuffle(main)
    practice_real = [i.image_id for i in by_kind["practice"] if not i.is_generated]
    practice_fake = [i.image_id for i in by_kind["practice"] if i.is_generated]
    n_real = options.practice // 2
    practice = rng.sample(practice_real, n_real) + rng.sample(practice_fake, options.practice - n_real)
    rng.shuffle(practice)
    return practice + main
