"""Study settings: the options stored with a study (StudyOptions, with its ExclusionRules) and the
`create` verb's options (StudyConfig). Torch-free and light: every study_app module imports it."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from inkwash.hashing import sha256_text

ENV_DB_URL = "STUDY_DB_URL"        # the database the app and every verb use unless --db is given
ENV_STUDY = "STUDY_NAME"           # the study the app serves (default: the newest one)
ENV_ROLE = "STUDY_ROLE"            # respondent (default): respondents' pages; analyst: the analyst page only
DEFAULT_DB_URL = "sqlite:///study.db"
DISPLAY_SIZE = 256                 # px; every study image is shown at this size (paper: 256x256)
# ms an image must be on screen before it can be answered: the default double-click interval of
# Windows and GNOME, so the second click of any double click lands on locked buttons.
MIN_VIEW_MS = 500

GENDERS = ("female", "male", "non-binary", "prefer not to say")
AGE_BANDS = ("11-20", "21-30", "31-40", "41-50", "51-60", "61-70", "other")   # paper Table 5 + other
ANSWERS = ("real", "generated")
KINDS = ("main", "practice", "catch")

DEFAULT_CONSENT_TEXT = """\
##### About this study

You are invited to take part in a study on how people perceive textile patterns. You will see
a series of pattern images, one at a time, and decide for each whether it is a **real** pattern
or one **generated** by a computer program. It takes about 10 minutes.

**What we record.** Your answers and how long each one took, and four short details about you:
gender, age band, whether you work in a clothing-related job, and your background in a few words.
We do not ask for your name, e-mail or any other detail that identifies you. Your answers are
stored under a random code.

**How the data are used.** The anonymous answers are analysed in aggregate for research and may
be published as anonymous tables and data files.

**Taking part is voluntary.** You may stop at any time by closing this page; answers given
until then are kept under the random code unless you ask the research team to delete them
(send them the link of this page: it holds your random code).

By pressing **I agree** you confirm that you are at least 16 years old, have read this text,
and agree to take part.
"""


def default_db_url() -> str:
    """The database URL from $STUDY_DB_URL, else `sqlite:///study.db` in the working folder."""
    return os.environ.get(ENV_DB_URL) or DEFAULT_DB_URL


def consent_version(text: str) -> str:
    """A consent text's version: the first 12 hex digits of its SHA-256 (changes with any edit)."""
    return sha256_text(text)[:12]


@dataclass(frozen=True)
class ExclusionRules:
    """Exclusion rules written down before data collection: stored with the study, applied to
    finished respondents before any table or test."""
    exclude_failed_catch: bool = True        # any catch trial answered wrongly
    exclude_identical_answers: bool = True   # the same answer on every main trial
    min_median_response_ms: int = 300        # median main-trial response time below this, ms (0 = off)

    def describe(self) -> list[str]:
        """One line per rule in force (["none"] when none is)."""
        out = []
        if self.exclude_failed_catch:
            out.append("failed catch trial: any catch trial answered wrongly")
        if self.exclude_identical_answers:
            out.append("identical answers: the same answer on every main trial")
        if self.min_median_response_ms > 0:
            out.append(f"too fast: median response time under {self.min_median_response_ms} ms")
        return out or ["none"]


@dataclass(frozen=True)
class StudyOptions:
    """What a study stores with itself (JSON in studies.options); read by the app and the analysis."""
    per_class: int = 25                  # real and generated main trials per respondent (paper: 25 + 25)
    disclose_ratio: bool = False         # tell respondents half the images are generated (paper: no; HYPE: yes)
    practice: int = 0                    # practice trials with feedback before the main ones (even: half real)
    catch: int = 0                       # attention-check trials mixed into the main ones
    display_size: int = DISPLAY_SIZE     # px, the size every image is stored and shown at
    min_view_ms: int = MIN_VIEW_MS       # ms on screen before the buttons unlock; faster answers are refused
    generator_resolution: int = DISPLAY_SIZE  # px; below display_size both classes were upscaled alike
    models: tuple[str, ...] = ()         # names of the generators whose images are judged
    seed: int = 0                        # seed of the study set-up (image subsets; ids come from os.urandom)
    exclusion: ExclusionRules = ExclusionRules()   # applied before any table or test

    @classmethod
    def from_dict(cls, d: dict) -> StudyOptions:
        """Rebuild from the stored JSON (the rules' keys sit beside the others), ignoring keys a
        newer version may have added."""
        rules = {f.name: d[f.name] for f in fields(ExclusionRules) if f.name in d}
        own = {f.name: d[f.name] for f in fields(cls) if f.name in d and f.name != "exclusion"}
        if "models" in own:
            own["models"] = tuple(own["models"])
        return cls(**own, exclusion=ExclusionRules(**rules))

    def to_dict(self) -> dict:
        """The stored JSON: one flat object, the exclusion rules' fields beside the others."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "exclusion"}
        return {**d, "models": list(self.models), **asdict(self.exclusion)}

    @property
    def n_trials(self) -> int:
        """Main + catch trials a respondent answers (the "of N" in the progress line)."""
        return 2 * self.per_class + self.catch


@dataclass
class StudyConfig:
    """Options of `python -m study_app create`; defaults of what the study stores come from StudyOptions."""
    name: str = ""                       # study name, unique in the database
    real: Path | None = None             # folder of real patterns
    fake: list[str] = field(default_factory=list)   # DIR or NAME=DIR, one per generator (repeatable)
    model: Path | None = None            # generator.onnx to sample the fakes from (instead of --fake)
    n: int = 0                           # number of fakes to sample from --model
    per_class: int = StudyOptions.per_class             # real and generated images per respondent
    db: str = ""                         # database URL ("" = $STUDY_DB_URL or sqlite:///study.db)
    image_dir: Path | None = None        # where the re-encoded images are written (default: next to the DB)
    disclose_ratio: bool = StudyOptions.disclose_ratio  # tell respondents that half the images are generated
    practice: int = StudyOptions.practice               # practice trials (even number; half real, half generated)
    catch: int = StudyOptions.catch                     # attention-check trials
    min_view_ms: int = StudyOptions.min_view_ms         # minimum viewing time before an answer, ms
    allow_mixed_sizes: tuple[str, ...] = ()             # sides (real, fake) whose images may differ in size
    consent_file: Path | None = None     # Markdown consent text (default: a built-in text)
    exclusion: ExclusionRules = ExclusionRules()        # exclusion rules stored with the study
    seed: int = StudyOptions.seed                       # seed for subsets and sampling
    device: str = "auto"                 # ONNX execution device for --model: auto | cpu | cuda
