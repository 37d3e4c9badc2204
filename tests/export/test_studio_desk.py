"""Desks: favourites, view and history in a local JSON file that survives a reload, is shared safely by
tabs (threads), keeps an unreadable file aside and refuses names that are no file names."""
from __future__ import annotations

import threading

import pytest

from export.studio.desk import HISTORY_MAX, Desk, DeskError


def test_favourites_view_and_open_tile_survive_a_new_session(tmp_path):
    d = Desk(tmp_path, "spring")
    assert d.toggle_favourite("1a2b3c4d:seed(3)") is True
    d.toggle_favourite("1a2b3c4d:seed(9)")
    assert d.toggle_favourite("1a2b3c4d:seed(3)") is False
    d.remember({"mode": "browse", "seed": 16, "scale": 0.3}, {"mode": "browse", "seed": 16})
    d.open("1a2b3c4d:seed(9)")
    again = Desk(tmp_path, "spring").load()
    assert again.favourites == ["1a2b3c4d:seed(9)"] and again.opened == "1a2b3c4d:seed(9)"
    assert again.view == {"mode": "browse", "seed": 16, "scale": 0.3}
    assert Desk(tmp_path, "autumn").load().favourites == []


def test_history_keeps_each_grid_once_newest_first_and_ignores_print_options(tmp_path):
    d = Desk(tmp_path)
    for seed in (0, 16, 0):
        d.remember({"seed": seed}, {"seed": seed})
    d.remember({"seed": 0, "scale": 0.5}, {"seed": 0})   # the print options changed, not the grid
    hist = d.load().history
    assert [h["view"]["seed"] for h in hist] == [0, 16] and d.load().view["scale"] == 0.5
    for seed in range(HISTORY_MAX + 5):
        d.remember({"seed": seed}, {"seed": seed})
    assert len(d.load().history) == HISTORY_MAX and d.load().history[0]["view"]["seed"] == HISTORY_MAX + 4
    d.clear_history()
    assert d.load().history == []


def test_two_tabs_marking_favourites_at_once_lose_none(tmp_path):
    texts = [f"1a2b3c4d:seed({k})" for k in range(60)]

    def mark(part):
        d = Desk(tmp_path)   # each tab has its own Desk object on the same file
        for t in part:
            d.toggle_favourite(t)
    threads = [threading.Thread(target=mark, args=(texts[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(Desk(tmp_path).load().favourites) == sorted(texts)


def test_an_unreadable_desk_file_is_kept_aside_and_the_page_told(tmp_path):
    (tmp_path / "main.json").write_text("{ not json")
    d = Desk(tmp_path)
    assert d.load().favourites == [] and "could not be read" in d.notice
    aside = list(tmp_path.glob("main.unreadable-*.json"))
    assert len(aside) == 1 and aside[0].read_text() == "{ not json"
    d.toggle_favourite("1a2b3c4d:seed(1)")
    assert Desk(tmp_path).load().favourites == ["1a2b3c4d:seed(1)"]


@pytest.mark.parametrize("name", ["../etc", "a b", "", "x" * 41, "desk.json"])
def test_a_desk_name_that_is_no_file_name_is_refused(tmp_path, name):
    with pytest.raises(DeskError, match="not a desk name"):
        Desk(tmp_path, name)
