"""The studio's Streamlit entry point: routing only. Run it through `python -m export studio`."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:   # `streamlit run export/studio/app.py` puts only export/studio/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from export.studio import views  # noqa: E402


def run() -> None:
    """Route the request to a page and run it."""
    st.set_page_config(page_title="Design studio · inkwash-gan", layout="wide", initial_sidebar_state="expanded")
    current = st.navigation([views.page(name) for name in views.PAGES], position="top")
    current.run()


if __name__ == "__main__":   # Streamlit runs this file as __main__; importing it draws nothing
    run()
