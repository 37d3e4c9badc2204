"""A designer's desk: favourites, history and the current view, kept in one small JSON file,
STORE/<desk>.json, on this machine (nothing is sent anywhere).

The desk's name is in the page's URL (`?desk=NAME`, "main" by default), so a reload, a dropped
connection or a bookmarked link finds the same desk. Every change reads the file, changes it and
writes it back atomically under a lock (the sessions of one server are threads of one process), so
two tabs on one desk never drop each other's favourites. A file that cannot be read is moved aside,
not overwritten, and the page says where it went.
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from inkwash.atomic import write_json
from inkwash.cli import UserError
from inkwash.provenance import utc_now

DEFAULT_DESK = "main"
DESK_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
HISTORY_MAX = 200          # grids remembered per desk, newest first
FORMAT = 1
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


class DeskError(UserError):
    """A desk name that cannot be a file name; the message says which names work."""


@dataclass
class DeskState:
    """What a desk remembers."""

    favourites: list[str] = field(default_factory=list)   # recipe texts, in the order they were marked
    history: list[dict] = field(default_factory=list)     # {"at": UTC time, "view": view}, newest first
    view: dict = field(default_factory=dict)              # the grid on screen (session.VIEW_KEYS)
    opened: str | None = None                             # recipe text of the tile open on the tile page


def _lock(path: Path) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(path, threading.Lock())


class Desk:
    """One desk's file. `notice` tells about a file that had to be moved aside (else None)."""

    def __init__(self, folder: Path, name: str = DEFAULT_DESK):
        if not DESK_NAME.fullmatch(name or ""):
            raise DeskError(f"desk: {name!r} is not a desk name; use 1-40 letters, digits, '-' or '_' "
                            f"(as in ?desk=spring-24)")
        self.name = name
        self.path = Path(folder).resolve() / f"{name}.json"
        self.notice: str | None = None

    def _read(self) -> DeskState:
        if not self.path.is_file():
            return DeskState()
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return DeskState(list(data.get("favourites", [])), list(data.get("history", [])),
                             dict(data.get("view", {})), data.get("opened"))
        except (ValueError, UnicodeDecodeError, TypeError) as e:
            aside = self.path.with_name(f"{self.path.stem}.unreadable-{utc_now().replace(':', '')}.json")
            self.path.replace(aside)
            self.notice = (f"The desk file {self.path} could not be read ({e}); it was kept as {aside.name} "
                           f"and this desk starts empty.")
            return DeskState()

    def load(self) -> DeskState:
        """The desk as stored now."""
        with _lock(self.path):
            return self._read()

    def update(self, change: Callable[[DeskState], None]) -> DeskState:
        """Read the desk, apply `change`, write it back (atomically, under the desk's lock)."""
        with _lock(self.path):
            state = self._read()
            before = asdict(state)
            change(state)
            if asdict(state) != before:
                write_json(self.path, {"format": FORMAT, **asdict(state)})
            return state

    def toggle_favourite(self, text: str) -> bool:
        """Mark or unmark a recipe as favourite; returns whether it is one now."""
        def change(s: DeskState) -> None:
            if text in s.favourites:
                s.favourites.remove(text)
            else:
                s.favourites.append(text)
        return text in self.update(change).favourites

    def remember(self, view: dict, grid: dict) -> None:
        """Store the current view; a grid that is not on top of the history goes there (once)."""
        def change(s: DeskState) -> None:
            s.view = dict(view)
            if s.history and s.history[0].get("view") == grid:
                return
            s.history = [{"at": utc_now(), "view": dict(grid)}] + [h for h in s.history if h.get("view") != grid]
            del s.history[HISTORY_MAX:]
        self.update(change)

    def open(self, text: str | None) -> None:
        """The recipe open on the tile page."""
        def change(s: DeskState) -> None:
            s.opened = text
        self.update(change)

    def clear_history(self) -> None:
        def change(s: DeskState) -> None:
            s.history = []
        self.update(change)
