"""The PostgreSQL store's schema and reading helpers: its migrations, its URLs, connections, and
how documents with their element logs are read back (by the store at load and by a replica).
See ``store.postgres`` for the tables' roles."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from twinbridge.aas.errors import StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import ElementOp, LoggedChange, StoredDocument

DEFAULT_SCHEMA = "twinbridge"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SUBMODEL = ObjectKind.SUBMODEL.value

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE documents (
        kind text NOT NULL,
        id text NOT NULL,
        ord bigserial NOT NULL,
        body jsonb NOT NULL,
        id_short text GENERATED ALWAYS AS (body ->> 'idShort') STORED,
        semantic_id text GENERATED ALWAYS AS (body -> 'semanticId' -> 'keys' -> 0 ->> 'value') STORED,
        global_asset_id text GENERATED ALWAYS AS (body -> 'assetInformation' ->> 'globalAssetId') STORED,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX documents_order ON documents (kind, ord);
    CREATE INDEX documents_id_short ON documents (kind, id_short);
    CREATE INDEX documents_semantic_id ON documents (kind, semantic_id);
    CREATE INDEX documents_global_asset_id ON documents (global_asset_id) WHERE global_asset_id IS NOT NULL;
    CREATE INDEX documents_specific_asset_ids ON documents
        USING gin ((body -> 'assetInformation' -> 'specificAssetIds') jsonb_path_ops) WHERE kind = 'shell';
    CREATE SEQUENCE change_seq;
    CREATE TABLE element_values (
        submodel_id text NOT NULL,
        path text NOT NULL,
        seq bigint NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (submodel_id, path)
    );
    CREATE TABLE element_log (
        seq bigint PRIMARY KEY,
        submodel_id text NOT NULL,
        op text NOT NULL,
        path text NOT NULL,
        body bytea
    );
    CREATE INDEX element_log_submodel ON element_log (submodel_id, seq);
    CREATE TABLE versions (
        kind text NOT NULL,
        id text NOT NULL,
        version bigint NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE TABLE files (
        name text PRIMARY KEY,
        content_type text NOT NULL,
        data bytea NOT NULL
    );
    CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        instance text NOT NULL,
        batch text NOT NULL,
        kind text NOT NULL,
        identifier text NOT NULL,
        op text NOT NULL,
        path text NOT NULL DEFAULT '',
        body bytea,
        created timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX outbox_created ON outbox (created);
    CREATE TABLE outbox_pruned (through bigint NOT NULL);
    INSERT INTO outbox_pruned VALUES (0);
    """,
    # 2: ``/submodels?semanticId=`` and ``idShort=`` in SQL at any size (``postgres_documents``): a
    # page of matches is a range of (semantic_id or id_short, ord) (idShort over (kind, id_short)
    # alone: 405 ms a page at 1M, 10,000 matches sorted); the semanticId's other keys (most have
    # one) are indexed apart, so a value rare among them is found without walking the table
    """
    CREATE INDEX documents_semantic_order ON documents (kind, semantic_id, ord);
    CREATE INDEX documents_id_short_order ON documents (kind, id_short, ord);
    CREATE INDEX documents_semantic_other_keys ON documents
        USING gin (jsonb_path_query_array(body, '$.semanticId.keys[1 to last].value') jsonb_path_ops)
        WHERE kind = 'submodel';
    """,
    # 3: shells in SQL (``?cache=N`` bounds shells too, ``postgres_shells``). ``/shells?assetIds=`` pages
    # are a range of (name, value, ord) in a table of every shell's asset ids, which triggers keep
    # equal to the documents (a page of a value 1,000 shells share took a bitmap of all of them
    # and a sort over migration 1's GIN index: 77 ms at 100k, growing with the total); name
    # ``globalAssetId`` holds the global asset id, as the in-memory catalog's keys do. And "which
    # shells reference this submodel" (a submodel's DELETE drops those references,
    # ``/submodels/{id}/shells`` lists them): without an index a walk of every shell
    """
    CREATE TABLE shell_asset_ids (
        name text NOT NULL,
        value text NOT NULL,
        ord bigint NOT NULL
    );
    CREATE INDEX shell_asset_ids_page ON shell_asset_ids (name, value, ord);
    CREATE INDEX shell_asset_ids_shell ON shell_asset_ids (ord);
    CREATE FUNCTION shell_asset_ids_of(body jsonb) RETURNS TABLE (name text, value text)
        LANGUAGE sql IMMUTABLE AS $$
        SELECT DISTINCT found.name, found.value FROM (
            SELECT 'globalAssetId' AS name, body -> 'assetInformation' ->> 'globalAssetId' AS value
            UNION ALL
            SELECT asset ->> 'name', asset ->> 'value' FROM jsonb_array_elements(
                CASE jsonb_typeof(body -> 'assetInformation' -> 'specificAssetIds') WHEN 'array'
                THEN body -> 'assetInformation' -> 'specificAssetIds' ELSE '[]' END) AS asset
        ) AS found WHERE found.name IS NOT NULL AND found.value IS NOT NULL $$;
    CREATE FUNCTION shell_asset_ids_follow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.kind = 'shell' THEN
            DELETE FROM shell_asset_ids WHERE ord = OLD.ord;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.kind = 'shell' THEN
            INSERT INTO shell_asset_ids (name, value, ord) SELECT found.name, found.value, NEW.ord
                FROM shell_asset_ids_of(NEW.body) AS found;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER shell_asset_ids_insert AFTER INSERT ON documents FOR EACH ROW
        WHEN (NEW.kind = 'shell') EXECUTE FUNCTION shell_asset_ids_follow();
    CREATE TRIGGER shell_asset_ids_update AFTER UPDATE ON documents FOR EACH ROW
        WHEN (OLD.kind = 'shell' OR NEW.kind = 'shell') EXECUTE FUNCTION shell_asset_ids_follow();
    CREATE TRIGGER shell_asset_ids_delete AFTER DELETE ON documents FOR EACH ROW
        WHEN (OLD.kind = 'shell') EXECUTE FUNCTION shell_asset_ids_follow();
    INSERT INTO shell_asset_ids (name, value, ord) SELECT found.name, found.value, d.ord
        FROM documents AS d, shell_asset_ids_of(d.body) AS found WHERE d.kind = 'shell';
    CREATE INDEX documents_shell_submodels ON documents
        USING gin ((body -> 'submodels') jsonb_path_ops) WHERE kind = 'shell';
    """,
)


def as_int(value: object) -> int:
    """A column psycopg returned as an int (bigint, count) typed for the checker."""
    if not isinstance(value, int):
        raise StorageError(f"the store returned {value!r} where a number belongs")
    return value


def as_bytes(value: object) -> bytes | None:
    """A bytea column (None for NULL)."""
    if value is None:
        return None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise StorageError(f"the store returned {type(value).__name__} where bytes belong")
    return bytes(value)


class StoreUrl:
    """A ``postgresql://`` URL split into libpq's connection string, our schema name and the
    resident-submodel bound (``?cache=N``: keep at most N submodels in memory, see ``aas.resident``;
    absent: every identifiable is loaded at start)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for name, value in query if name == "schema"]
        self.schema = schemas[-1] if schemas else DEFAULT_SCHEMA
        if not _SCHEMA_NAME.fullmatch(self.schema):
            raise ValueError(f"schema {self.schema!r}: lower-case letters, digits and _, at most 63")
        caches = [value for name, value in query if name == "cache"]
        self.cache: int | None = None
        if caches:
            if not caches[-1].isdigit() or int(caches[-1]) < 1:
                raise ValueError(f"cache {caches[-1]!r}: the number of submodels to keep in memory, at least 1")
            self.cache = int(caches[-1])
        rest = urlencode([(name, value) for name, value in query if name not in ("schema", "cache")])
        self.conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, rest, ""))
        self.channel = f"twinbridge_{self.schema}"


def connect(url: StoreUrl, *, autocommit: bool = False, name: str = "twinbridge store",
            ) -> psycopg.Connection[tuple[object, ...]]:
    """A connection whose search_path is the store's schema (created if missing); ``name`` is its
    application_name in pg_stat_activity."""
    conn = psycopg.connect(url.conninfo, autocommit=True, connect_timeout=5, application_name=name)
    try:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(url.schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(url.schema)))
        conn.autocommit = autocommit
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> None:
    """Apply the migrations this schema has not seen, under a lock (instances may start together)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.migrate",))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied timestamptz"
                     " NOT NULL DEFAULT now())")
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        applied = as_int(row[0]) if row else 0
        if applied > len(MIGRATIONS):
            raise StorageError(f"the schema {schema} was written by a newer twinbridge (migration {applied})")
        for version, script in enumerate(MIGRATIONS[applied:], start=applied + 1):
            conn.execute(script)  # type: ignore[arg-type]  # our own constant DDL
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))


def read_documents(conn: psycopg.Connection[tuple[object, ...]], kinds_ids: Iterable[tuple[str, str]],
                   ) -> dict[tuple[str, str], tuple[StoredDocument | None, int]]:
    """The current (document with its log, version) of each (kind, id); (None, 0) when deleted.

    One statement: each document with its element log and value rows aggregated beside it in
    ``seq`` order (two statements, document then log, cost a bounded twin's miss a second round
    trip)."""
    wanted = list(kinds_ids)
    found: dict[tuple[str, str], tuple[StoredDocument | None, int]] = {key: (None, 0) for key in wanted}
    if not wanted:
        return found
    kinds, ids = [kind for kind, _ in wanted], [identifier for _, identifier in wanted]
    rows = conn.execute(
        "SELECT d.kind, d.id, d.body::text, coalesce(v.version, 0), l.ops, l.paths, l.bodies FROM documents d"
        " JOIN unnest(%s::text[], %s::text[]) AS w(kind, id) USING (kind, id)"
        " LEFT JOIN versions v USING (kind, id)"
        " LEFT JOIN LATERAL (SELECT array_agg(op ORDER BY seq) AS ops, array_agg(path ORDER BY seq) AS paths,"
        " array_agg(body ORDER BY seq) AS bodies FROM (SELECT seq, op, path, body FROM element_log"
        " WHERE submodel_id = d.id UNION ALL SELECT seq, 'value', path, body FROM element_values"
        " WHERE submodel_id = d.id) AS logged WHERE d.kind = %s) AS l ON true", (kinds, ids, _SUBMODEL)).fetchall()
    for kind, identifier, body, version, ops, log_paths, bodies in rows:
        key = (str(kind), str(identifier))
        log = [] if not isinstance(ops, list) or not isinstance(log_paths, list) or not isinstance(bodies, list) \
            else [LoggedChange(ElementOp(str(op)), str(path), as_bytes(logged))
                  for op, path, logged in zip(ops, log_paths, bodies, strict=True)]
        found[key] = (StoredDocument(ObjectKind(kind), key[1], str(body).encode(), log), as_int(version))
    return found


def logs_of(conn: psycopg.Connection[tuple[object, ...]], where: str, params: tuple[object, ...],
          ) -> dict[str, list[LoggedChange]]:
    """Each submodel's structural log and value rows, merged in ``seq`` order."""
    rows = conn.execute(
        f"SELECT submodel_id, seq, op, path, body FROM element_log {where}"  # our own clause
        f" UNION ALL SELECT submodel_id, seq, 'value', path, body FROM element_values {where}"
        " ORDER BY 1, 2", params + params).fetchall()
    logs: dict[str, list[LoggedChange]] = {}
    for submodel_id, _, op, path, body in rows:
        logs.setdefault(str(submodel_id), []).append(
            LoggedChange(ElementOp(str(op)), str(path), as_bytes(body)))
    return logs
