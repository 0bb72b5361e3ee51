"""The machine's PostgreSQL (127.0.0.1:5432, trust, database ``test``) for tests: one fresh
schema per test, dropped afterwards, so parallel runs and other suites never meet."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg

from tests.peers import missing_peer

SERVER = os.environ.get("TWINBRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def require_postgres() -> None:
    try:
        with psycopg.connect(SERVER, connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        missing_peer(f"PostgreSQL at {SERVER} is not reachable: {error}")


def schema_name(prefix: str = "tb") -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"


def store_url(schema: str, server: str = SERVER) -> str:
    return f"{server}?schema={schema}"


def drop_schema(schema: str, server: str = SERVER) -> None:
    with contextlib.suppress(psycopg.OperationalError), psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def fresh_store_url(prefix: str = "tb", server: str = SERVER) -> Iterator[str]:
    """A ``postgresql://…?schema=`` URL of a schema nobody else uses; dropped at the end."""
    schema = schema_name(prefix)
    try:
        yield store_url(schema, server)
    finally:
        drop_schema(schema, server)
