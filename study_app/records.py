"""What the Store returns and raises: a Study, a Respondent, and the errors a page or a verb shows
as one line (inkwash UserErrors)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from inkwash.cli import UserError

from study_app.config import StudyOptions


class StoreError(UserError):
    """A database the app cannot use, or a request it cannot honour; the message says why."""


class DatabaseBusy(StoreError):
    """The SQLite write lock stayed taken for longer than the Store's busy timeout: nothing was
    written; trying again later may work."""


class DatabaseUnavailable(StoreError):
    """The database cannot be used any more: its file was deleted or replaced while serving, or the
    server cannot be reached. Nothing more can be saved until it is fixed (and the app restarted)."""


@dataclass(frozen=True)
class Study:
    """One study as created (it never changes afterwards)."""
    id: int
    name: str
    created_at: datetime
    consent_version: str        # SHA-256 prefix of consent_text
    consent_text: str           # Markdown shown on the consent page
    image_dir: str              # where `create` wrote the study's PNGs
    options: StudyOptions       # design, display and exclusion rules
    url_key: str = field(default="", repr=False)   # secret key of the images' public names


@dataclass(frozen=True)
class Respondent:
    """A respondent's stored state, as read at one moment."""
    id: int
    pid: str                                # opaque token in the respondent's ?pid= link
    study: str                              # study name
    study_id: int
    seed: int                               # seed of the plan
    plan: tuple[str, ...]                   # image ids in trial order
    consented: bool = False
    demographics_done: bool = False
    answered: frozenset[int] = frozenset()  # trial indexes with a stored answer
    finished: bool = False
    completion_code: str | None = None
