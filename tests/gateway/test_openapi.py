"""The merged OpenAPI document: the gateway's API and the services' paths in one, with the
bearer key as its security scheme."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.gateway.openapi import merge_documents
from services.gateway.proxy import Upstream
from tests.gateway.conftest import GatewayFactory
from tests.support import free_port


@pytest.mark.integration
async def test_document_merges_the_gateway_and_the_services(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        response = await client.get("/openapi.json")
        docs = await client.get("/docs")
    assert response.status_code == 200
    document = response.json()
    assert "/gateway/v1/clients" in document["paths"]
    assert "/registry/v1/widgets/{widget_id}" in document["paths"]
    # Only a service's own prefix is taken from its document.
    assert not [path for path in document["paths"] if path.startswith("/{")]
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert "Widget" in document["components"]["schemas"]
    assert "x-unavailable-services" not in document
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text


@pytest.mark.integration
async def test_the_docs_pages_load_their_assets_from_the_gateway_itself(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        pages = {path: await client.get(path) for path in ("/docs", "/redoc")}
        for page in pages.values():
            assert page.status_code == 200 and "/openapi.json" in page.text
            assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert assets and all(url.startswith("/docs-assets/") for url in assets), assets
            assert not re.findall(r"https?://", page.text), "no CDN, no remote favicon"
            for url in assets:
                asset = await client.get(url)
                assert asset.status_code == 200 and len(asset.content) > 1000, url
        missing = await client.get("/docs-assets/nothing.js")
    assert "swagger-ui-bundle.js" in pages["/docs"].text and "redoc.standalone.js" in pages["/redoc"].text
    assert missing.status_code == 404


@pytest.mark.integration
async def test_a_service_that_is_down_is_listed_not_fatal(gateway: GatewayFactory) -> None:
    async with gateway(sharing_url=f"http://127.0.0.1:{free_port()}") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["x-unavailable-services"] == ["sharing"]
    assert "/registry/v1/widgets/{widget_id}" in document["paths"]


def _service_document(prefix: str, person_fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "paths": {
            f"{prefix}/people": {
                "get": {
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}}
                    }
                }
            },
            "/healthz": {"get": {}},
        },
        "components": {
            "schemas": {
                "Page": {"properties": {"items": {"items": {"$ref": "#/components/schemas/Person"}}}},
                "Person": {"properties": person_fields},
                "Problem": {"properties": {"type": {"type": "string"}}},
            }
        },
    }


def test_same_name_for_different_shapes_is_renamed_with_every_reference() -> None:
    registry = Upstream.at("registry", "/registry/v1", "http://127.0.0.1:1")
    subsidy = Upstream.at("subsidy", "/subsidy/v1", "http://127.0.0.1:2")
    merged = merge_documents(
        {"openapi": "3.1.0", "paths": {}},
        [
            (registry, _service_document("/registry/v1", {"person_id": {"type": "string"}})),
            (subsidy, _service_document("/subsidy/v1", {"beneficiary": {"type": "string"}})),
        ],
    )
    schemas = merged["components"]["schemas"]
    # Identical shapes are shared; different ones keep both, the later one renamed.
    assert set(schemas) == {"Page", "Person", "Problem", "subsidy__Person", "subsidy__Page"}
    assert schemas["Person"]["properties"] == {"person_id": {"type": "string"}}
    assert schemas["subsidy__Person"]["properties"] == {"beneficiary": {"type": "string"}}
    assert schemas["subsidy__Page"]["properties"]["items"]["items"]["$ref"] == "#/components/schemas/subsidy__Person"
    subsidy_ref = merged["paths"]["/subsidy/v1/people"]["get"]["responses"]["200"]["content"]["application/json"]
    assert subsidy_ref["schema"]["$ref"] == "#/components/schemas/subsidy__Page"
    registry_ref = merged["paths"]["/registry/v1/people"]["get"]["responses"]["200"]["content"]["application/json"]
    assert registry_ref["schema"]["$ref"] == "#/components/schemas/Page"
    assert "/healthz" not in merged["paths"]
