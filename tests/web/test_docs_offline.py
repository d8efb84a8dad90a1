"""/docs works with no internet: the Swagger UI page references only this app's own files, and
the app serves them (from the built dashboard, copied from the pinned swagger-ui-dist)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import DuckDbStore

_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


def test_docs_page_is_served_from_the_package(tmp_path: Path) -> None:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    live = ScriptedLive(start_ms=int(time.time() * 1000))
    store = DuckDbStore(data_dir=tmp_path)
    try:
        app = create_app(live=live, store=store, settings=ApiSettings(web_dir=web_dir))
        with TestClient(app) as client:
            page = client.get("/docs")
            assert page.status_code == 200
            html = page.text
            assert "SwaggerUIBundle" in html
            urls = [a or b for a, b in _URL.findall(html)]
            assert urls, html
            for url in urls:
                assert "//" not in url, f"/docs references another host: {url}"
            local = [u for u in urls if not u.startswith("data:")]
            assert {"/swagger-ui/swagger-ui-bundle.js", "/swagger-ui/swagger-ui.css"} <= set(local)
            for url in local:
                answer = client.get(url)
                assert answer.status_code == 200, url
                assert len(answer.content) > 1000 or url == "/openapi.json", url
            assert "/api/devices" in client.get("/openapi.json").json()["paths"]
    finally:
        store.close()


def test_docs_page_without_a_built_dashboard_says_how_to_build_it(tmp_path: Path) -> None:
    live = ScriptedLive(start_ms=int(time.time() * 1000))
    store = DuckDbStore(data_dir=tmp_path)
    try:
        app = create_app(live=live, store=store, settings=ApiSettings(web_dir=None))
        with TestClient(app) as client:
            page = client.get("/docs")
            assert page.status_code == 200
            assert "make web" in page.text and "//" not in page.text
    finally:
        store.close()
