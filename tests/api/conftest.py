"""Shared fixtures of the REST API tests: the full basyx example twin, the app, clients, a live server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from basyx.aas import model
from basyx.aas.examples.data.example_aas import create_full_example
from basyx.aas.util import traversal
from fastapi import FastAPI

from tests.serving import serving_in_thread
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity

PREFIX = "/api/v3.0"
SHELL_ID = "https://example.org/Test_AssetAdministrationShell"
SUBMODEL_ID = "https://example.org/Test_Submodel"
CONCEPT_ID = "https://example.org/Test_ConceptDescription"
FILE_PATH = "/TestFile.pdf"
THUMBNAIL_PATH = "file:///path/to/thumbnail.png"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a2c5e4bb0000000049454e44ae426082"
)


def _repair_example(obj: model.Identifiable) -> None:
    """Make basyx's example pass the IDTA test engine's constraint checks.

    It sets both ``value`` and ``valueList`` in IEC 61360 contents (AASc-3a-010: keep the list)
    and puts a TemplateQualifier into an Instance submodel (AASd-129: make it a ConceptQualifier).
    """
    holders: list[object] = [obj]
    if isinstance(obj, model.Submodel):
        holders.extend(traversal.walk_submodel(obj))
    for holder in holders:
        if isinstance(obj, model.Submodel) and obj.kind is model.ModellingKind.INSTANCE:
            for qualifier in getattr(holder, "qualifier", ()):
                if qualifier.kind is model.QualifierKind.TEMPLATE_QUALIFIER:
                    qualifier.kind = model.QualifierKind.CONCEPT_QUALIFIER
        for spec in getattr(holder, "embedded_data_specifications", ()):
            content = spec.data_specification_content
            if isinstance(content, model.DataSpecificationIEC61360) and content.value_list:
                content.value = None


def load_full_example(twin: Twin) -> Twin:
    """Every identifiable of basyx's full example plus the files its File element and thumbnail name."""
    for obj in create_full_example():
        _repair_example(obj)
        twin.create(obj)
    twin.save_file(FILE_PATH, "application/pdf", PDF_BYTES)
    twin.save_file(THUMBNAIL_PATH, "image/png", PNG_BYTES)
    return twin


@pytest.fixture
def full_twin() -> Twin:
    return load_full_example(Twin())


@pytest.fixture
def security() -> ApiSecurity:
    """Auth off; tests of security override this fixture."""
    return ApiSecurity(mode="none")


@pytest.fixture
def app(full_twin: Twin, security: ApiSecurity) -> FastAPI:
    return create_app(full_twin, prefix=PREFIX, security=security)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """In-process client; requests go to ``{PREFIX}/...`` relative paths like ``/shells``."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://twin{PREFIX}") as http:
        yield http


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn over real HTTP in a background thread; yields the base URL with prefix."""
    with serving_in_thread(app) as base:
        yield f"{base}{PREFIX}"
