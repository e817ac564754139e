"""Every service serves `/docs` and `/redoc` with assets of its own: no CDN, no remote favicon."""

from __future__ import annotations

import re

import httpx

from services.kit.app import ServiceDefinition, create_service_app
from services.kit.settings import ServiceSettings


async def test_a_service_serves_both_pages_and_their_assets_itself() -> None:
    app = create_service_app(
        ServiceDefinition(name="widgets", title="Widgets", description="Test", routers=[]), ServiceSettings()
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://widgets.test") as client:
        for path, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            page = await client.get(path)
            assert page.status_code == 200 and "/openapi.json" in page.text and script in page.text
            assert not re.findall(r"https?://", page.text), f"{path} names a remote address"
            for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
                assert url.startswith("/docs-assets/")
                assert (await client.get(url)).status_code == 200, url
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/docs", "/redoc"} & set(paths), "the pages are not API operations"
