"""The study's web server: Streamlit's app (`app.py`) as an ASGI application (`st.App`) with one
more route, and a hook that keeps unexpected errors' details in the server log.

`python -m study_app serve` runs `streamlit run study_app/asgi.py`; Streamlit finds `app` below and
serves it with uvicorn. The extra route serves the served study's images as immutable static files,
`images/<name>.png`, where `name` is an HMAC of the image id under the study's secret `url_key`:
the same on every server of the study (no sticky sessions for images), cached by browsers,
preloaded by the trial page, and unrelated to anything in an export (ids, bytes' hashes).
"""
from __future__ import annotations

import logging
import os
import threading
import traceback
from pathlib import Path

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from streamlit import config as st_config

from study_app import images as img
from study_app.config import ENV_DB_URL, ENV_ROLE, ENV_STUDY, default_db_url
from study_app.records import StoreError

APP = Path(__file__).resolve().parent / "app.py"
CACHE_CONTROL = "public, max-age=31536000, immutable"   # a study image never changes
log = logging.getLogger("study_app.server")


class StudyImages:
    """The served study's PNGs by public name, each read from the database once."""

    def __init__(self, url: str, study: str):
        self.url, self.study = url, study
        self._lock = threading.Lock()
        self._names: dict[str, str] | None = None   # public name -> image id
        self._png: dict[str, bytes] = {}
        self._store = None

    def _load(self, name: str) -> bytes | None:
        from study_app.store import Store
        with self._lock:
            if self._store is None:
                self._store = Store(self.url)
                s = self._store.get_study(self.study)
                self._names = {img.public_name(s.url_key, i): i for i in self._store.pool(s.id)}
            image_id = self._names.get(name)
        if image_id is None:
            return None
        png = self._store.image_png(image_id)
        with self._lock:
            self._png[name] = png
        return png

    async def response(self, request: Request) -> Response:
        """GET images/<name>.png: the PNG, or 404 for any other name."""
        name = request.path_params["name"]
        png = self._png.get(name)
        if png is None:
            try:
                png = await run_in_threadpool(self._load, name)
            except StoreError as e:
                log.error("image %s: %s", name, e)
                return Response(status_code=503)
        if png is None:
            return Response(status_code=404)
        return Response(png, media_type="image/png", headers={
            "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"})


def image_route(images: StudyImages) -> Route:
    """The route of the study images, under the server's base URL path if one is set."""
    base = (st_config.get_option("server.baseUrlPath") or "").strip("/")
    return Route("/" + "/".join(filter(None, [base, img.IMAGE_ROUTE, "{name}.png"])), images.response)


def on_script_error(exc: Exception) -> bool:
    """Any error a page or callback did not handle: the details to the server log, one plain
    message to the browser (never a traceback)."""
    from study_app import views
    log.error("unhandled error in a page: %s", "".join(traceback.format_exception(exc)).strip())
    if isinstance(exc, StoreError):
        views.problem_page(exc)
    else:
        st.error("Something went wrong on the server. Your answers so far are saved; please "
                 "reload the page to continue.")
    return True


def _routes() -> list[Route]:
    if os.environ.get(ENV_ROLE, "respondent") != "respondent" or not os.environ.get(ENV_STUDY):
        return []
    return [image_route(StudyImages(os.environ.get(ENV_DB_URL) or default_db_url(),
                                    os.environ[ENV_STUDY]))]


app = st.App(APP, routes=_routes(), on_script_error=on_script_error)
