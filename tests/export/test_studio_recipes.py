"""Studio recipes: text round trips, the latents each kind stands for, grids, and bad recipes in one line."""
from __future__ import annotations

import numpy as np
import pytest

from export import sheets
from export.onnx_export import make_latents
from export.studio import recipes as R

DIM = 100
TEXTS = ["1a2b3c4d:seed(7)", "1a2b3c4d:c2:seed(0)",
         "1a2b3c4d:around(seed(3),seed(7);spread=0.5,draw=2)",
         "1a2b3c4d:c1:slerp(seed(1),vary(seed(2);s=0.3,seed=4);t=0.25)",
         "1a2b3c4d:vary(around(seed(1),slerp(seed(2),seed(3);t=1.0);spread=1.25,draw=0);s=0.05,seed=9)"]


@pytest.mark.parametrize("text", TEXTS)
def test_recipe_text_reads_back_to_itself_even_when_wrapped(text):
    r = R.parse(text)
    assert r.text == text
    wrapped = text.replace(",", ",\n  ").replace(";", " ; ")
    assert R.parse(wrapped) == r


def test_a_seed_recipe_is_the_design_sheet_latent_and_id():
    r = R.parse("0badcafe:c2:seed(7)")
    np.testing.assert_array_equal(R.latent_vector(r.latent, DIM), make_latents(1, DIM, 7)[0])
    assert r.design_id == "IW-0badcafe-S0007-C2"
    assert R.parse("0badcafe:seed(12)").design_id == "IW-0badcafe-S0012"


def test_other_recipes_get_an_id_from_their_latent_text():
    a, b = R.parse(TEXTS[2]), R.parse(TEXTS[2].replace("draw=2", "draw=3"))
    assert a.design_id.startswith("IW-1a2b3c4d-R") and a.design_id != b.design_id
    assert R.parse(TEXTS[2]).design_id == a.design_id


def test_around_stays_on_the_favourites_shell_and_its_spread_widens_the_draws():
    favs = (R.Seed(3), R.Seed(7), R.Seed(11))
    zs = np.stack([R.latent_vector(f, DIM) for f in favs])
    centre = zs.mean(0) * np.linalg.norm(zs, axis=1).mean() / np.linalg.norm(zs.mean(0))
    dist = {}
    for spread in (0.1, 0.5, 2.0):
        draws = np.stack([R.latent_vector(z, DIM) for z in R.grid("around", 12, 0, favs, spread)])
        dist[spread] = np.linalg.norm(draws - centre, axis=1).mean()
        # The prior's shell: about sqrt(DIM) long, like the favourites, not the ~1/sqrt(3) shorter mean.
        np.testing.assert_allclose(np.linalg.norm(draws, axis=1).mean(), np.sqrt(DIM), rtol=0.1)
    assert dist[0.1] < 0.15 * np.sqrt(DIM) and dist[0.1] < dist[0.5] < dist[2.0]


def test_around_draws_are_seeded():
    z = R.Around((R.Seed(1), R.Seed(2)), 0.5, 4)
    np.testing.assert_array_equal(R.latent_vector(z, DIM), R.latent_vector(R.parse("00000000:" + R.latent_text(z)).latent, DIM))
    assert not np.array_equal(R.latent_vector(z, DIM), R.latent_vector(R.Around(z.parts, 0.5, 5), DIM))


def test_slerp_runs_from_one_recipe_to_the_other():
    a, b = R.Seed(1), R.Vary(R.Seed(2), 0.3, 4)
    walk = R.grid("between", 5, 0, (a, b))
    assert [z.t for z in walk] == [0.0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(R.latent_vector(walk[0], DIM), R.latent_vector(a, DIM), atol=1e-5)
    np.testing.assert_allclose(R.latent_vector(walk[-1], DIM), R.latent_vector(b, DIM), atol=1e-5)


def test_vary_is_the_design_sheets_variation_rule():
    base = R.Seed(5)
    z = R.latent_vector(base, DIM)
    expected = sheets.variation_latents(z, 9, 1, 0.4)[0][0]
    np.testing.assert_array_equal(R.latent_vector(R.Vary(base, 0.4, 9), DIM), expected)


def test_grids_page_without_overlap_and_successors_are_the_next_tile():
    first, second = R.grid("browse", 8, 0), R.grid("browse", 8, 8)
    assert [z.seed for z in first + second] == list(range(16))
    vary = R.grid("vary", 4, 4, (R.Seed(0),), strength=0.3)
    assert [z.seed for z in vary] == [4, 5, 6, 7] and {z.strength for z in vary} == {0.3}
    assert R.successor(R.Seed(3)) == R.Seed(4)
    assert R.successor(vary[0]) == vary[1]
    walk = R.grid("between", 3, 0, (R.Seed(1), R.Seed(2)))
    assert R.successor(walk[1]) == R.Seed(2)


@pytest.mark.parametrize("text, words", [
    ("1a2b3c4d:seed(x)", "expected a whole number"),
    ("nothex:seed(1)", "8 hex digits"),
    ("1a2b3c4d:bloom(1)", "unknown recipe 'bloom'"),
    ("1a2b3c4d:around(seed(1);spread=9,draw=1)", "spread must be in (0, 4]"),
    ("1a2b3c4d:slerp(seed(1);t=0.5)", "exactly two latents"),
    ("1a2b3c4d:slerp(seed(1),seed(2);t=1.5)", "t must be in [0, 1]"),
    ("1a2b3c4d:vary(seed(1);s=0.3,seed=1.5)", "expected ')'"),
    ("1a2b3c4d:vary(seed(1);s=0,seed=1)", "s must be in (0, 2]"),
    ("1a2b3c4d:around(seed(1);draw=1,spread=0.5)", "expected spread="),
    ("1a2b3c4d:seed(1)x", "unexpected text"),
    ("1a2b3c4d:" + "vary(" * 40 + "seed(1)" + ";s=0.1,seed=1)" * 40, "nested more than"),
])
def test_a_bad_recipe_is_one_line_saying_what_and_where(text, words):
    with pytest.raises(R.RecipeError) as e:
        R.parse(text)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_check_refuses_another_models_recipe_and_a_wrong_class():
    sha = "1a2b3c4d" + "0" * 56
    R.check(R.parse("1a2b3c4d:seed(1)"), sha, 0)
    R.check(R.parse("1a2b3c4d:c2:seed(1)"), sha, 3)
    for text, classes, words in (("99999999:seed(1)", 0, "made with model 99999999"),
                                 ("1a2b3c4d:seed(1)", 3, "names no class"),
                                 ("1a2b3c4d:c3:seed(1)", 3, "not in 0..2"),
                                 ("1a2b3c4d:c0:seed(1)", 0, "unconditional")):
        with pytest.raises(R.RecipeError, match=words):
            R.check(R.parse(text), sha, classes)


def test_a_long_recipe_is_shortened_on_the_sheet_but_kept_whole_in_its_record():
    parts = ",".join(f"seed({k})" for k in range(40))
    r = R.parse(f"1a2b3c4d:around({parts};spread=0.5,draw=0)")
    o = R.sheet_origin(r, DIM)
    assert "…" in o.args and len(o.args) < R.FOOTER_RECIPE_CHARS + 20
    assert o.record["recipe"] == r.text and o.tag == r.design_id.split("-")[-1]
    np.testing.assert_array_equal(o.z, R.latent_vector(r.latent, DIM))
    np.testing.assert_array_equal(o.z_next, R.latent_vector(R.successor(r.latent), DIM))
