"""The bounded-cache tests' store: a fresh PostgreSQL schema behind ``?cache=5`` (five submodels
and five shells in memory), so a handful of objects already exercises eviction and misses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import fresh_store_url, require_postgres


@pytest.fixture
def bounded_url() -> Iterator[str]:
    require_postgres()
    with fresh_store_url("bounded") as base:
        yield base + "&cache=5"
