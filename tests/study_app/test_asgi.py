"""study_app.asgi: the study images under their public names only (immutable, the same bytes the
database holds), no image route on an analyst server, and unhandled errors kept in the log."""
from __future__ import annotations

import asyncio
import hashlib

from starlette.requests import Request

from study_app import asgi, images
from study_app.store import Store


def _get(served: asgi.StudyImages, name: str):
    request = Request({"type": "http", "method": "GET", "path": f"/images/{name}.png", "headers": [],
                       "path_params": {"name": name}, "query_string": b""})
    return asyncio.run(served.response(request))


def test_images_are_served_under_their_public_names_only(study, sqlite_url):
    store = Store(sqlite_url)
    s = store.get_study(study["name"])
    image_id = next(iter(store.pool(s.id)))
    served = asgi.StudyImages(sqlite_url, study["name"])
    response = _get(served, images.public_name(s.url_key, image_id))
    assert response.status_code == 200 and response.body == store.image_png(image_id)
    assert response.headers["cache-control"] == asgi.CACHE_CONTROL and response.media_type == "image/png"
    # Neither the id nor a hash of the bytes (both in an export) names an image.
    assert _get(served, image_id).status_code == 404
    assert _get(served, hashlib.sha256(store.image_png(image_id)).hexdigest()).status_code == 404
    assert images.image_url(s.url_key, image_id) == f"images/{images.public_name(s.url_key, image_id)}.png"


def test_only_a_respondent_server_has_the_image_route(study, sqlite_url, monkeypatch):
    monkeypatch.setenv("STUDY_DB_URL", sqlite_url)
    monkeypatch.setenv("STUDY_NAME", study["name"])
    monkeypatch.setenv("STUDY_ROLE", "respondent")
    (route,) = asgi._routes()
    assert route.path == "/images/{name}.png"
    monkeypatch.setenv("STUDY_ROLE", "analyst")
    assert asgi._routes() == []


def test_an_unhandled_error_goes_to_the_log_not_the_browser(caplog):
    try:
        raise RuntimeError("secret detail at /srv/study/app.py")
    except RuntimeError as e:
        assert asgi.on_script_error(e) is True      # True: Streamlit shows no traceback
    assert "secret detail at /srv/study/app.py" in caplog.text and "Traceback" in caplog.text
