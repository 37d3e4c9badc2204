"""The toolkit's cache folder: `$INKWASH_CACHE`, or ~/.cache/inkwash-gan when unset or empty."""
from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE = "INKWASH_CACHE"


def cache_dir(*parts: str) -> Path:
    """`$INKWASH_CACHE/<parts...>` (default ~/.cache/inkwash-gan/...); not created."""
    base = os.environ.get(ENV_CACHE) or str(Path.home() / ".cache" / "inkwash-gan")
    return Path(base).expanduser().joinpath(*parts)
