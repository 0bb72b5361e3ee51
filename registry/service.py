"""The registry's operations, off the event loop: Shell Registry, Submodel Registry, Discovery.

Every store call runs on one thread of its own (SQLite's connection is used by one thread at a
time, and a lookup of ~50 µs must not wait behind the loop's other work nor block it).
Descriptors arrive as parsed models and leave as the bytes the store keeps.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from twinbridge.aas.errors import Conflict, InvalidInput, NotFound
from twinbridge.query.descriptors import Descriptor
from twinbridge.query.plan import matcher
from twinbridge.query.resolve import Deadline
from twinbridge.query.syntax import Query, Root
from twinbridge.registry.descriptors import (
    AssetAdministrationShellDescriptor,
    SpecificAssetId,
    SubmodelDescriptor,
    render,
)
from twinbridge.registry.store import DescriptorStore, DescriptorTable, Link, Page, ShellRow

T = TypeVar("T")
Matches = tuple[list[tuple[str, bytes]], str | None]

SCAN_BATCH = 500
"""Rows a query reads from the store at a time: the deadline is checked between batches too."""
_TABLES: dict[Root, DescriptorTable] = {Root.AASDESC: "shell_descriptor", Root.SMDESC: "submodel_descriptor"}
M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: object, what: str) -> M:
    """A descriptor from JSON; a schema violation is InvalidInput naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in item['loc']) or what}: {item['msg']}"
                             for item in error.errors()[:5])
        raise InvalidInput(f"invalid {what}: {problems}") from None


def shell_row(descriptor: AssetAdministrationShellDescriptor) -> ShellRow:
    links = [Link(link.name, link.value, render(link)) for link in descriptor.asset_links()]
    return ShellRow(descriptor.id, descriptor.asset_kind, descriptor.asset_type, render(descriptor), links)


class RegistryService:
    """One store, one thread; ``close`` stops the thread and closes the database."""

    def __init__(self, store: DescriptorStore) -> None:
        self.store = store
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="registry-store")

    async def _run(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(call, *args, **kwargs))

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.store.close()

    # ------------------------------------------------------------ shells
    async def shell(self, identifier: str) -> bytes:
        return await self._run(self.store.shell, identifier)

    async def shells(self, asset_kind: str | None, asset_type: str | None, after: str | None, limit: int) -> Page:
        return await self._run(self.store.shells, asset_kind, asset_type, after, limit)

    async def save_shell(self, descriptor: AssetAdministrationShellDescriptor, *, create: bool | None) -> bytes:
        """``create``: True inserts (Conflict if it exists), False replaces (NotFound if missing), None upserts."""
        row = shell_row(descriptor)
        await self._run(self.store.save_shell, row, create=create)
        return row.body

    async def delete_shell(self, identifier: str) -> None:
        await self._run(self.store.delete_shell, identifier)

    # ------------------------------------- submodels inside a shell (superpath)
    async def shell_submodels(self, aas_id: str) -> list[SubmodelDescriptor]:
        shell = parse(AssetAdministrationShellDescriptor, orjson.loads(await self.shell(aas_id)), "descriptor")
        return list(shell.submodel_descriptors or ())

    async def edit_shell_submodels(self, aas_id: str,
                                   edit: Callable[[list[SubmodelDescriptor]], list[SubmodelDescriptor]]) -> None:
        """Read, change and write a shell's submodelDescriptors in one store transaction (a
        concurrent edit of the same shell, here or in another registry process, cannot slip between)."""
        def change(body: bytes) -> ShellRow:
            shell = parse(AssetAdministrationShellDescriptor, orjson.loads(body), "descriptor")
            shell.submodel_descriptors = edit(list(shell.submodel_descriptors or ())) or None
            return shell_row(shell)

        await self._run(self.store.edit_shell, aas_id, change)

    @staticmethod
    def find_submodel(descriptors: Sequence[SubmodelDescriptor], aas_id: str, submodel_id: str) -> SubmodelDescriptor:
        for descriptor in descriptors:
            if descriptor.id == submodel_id:
                return descriptor
        raise NotFound(f"the AssetAdministrationShellDescriptor {aas_id!r} has no SubmodelDescriptor {submodel_id!r}")

    async def add_shell_submodel(self, aas_id: str, descriptor: SubmodelDescriptor) -> None:
        def add(descriptors: list[SubmodelDescriptor]) -> list[SubmodelDescriptor]:
            if any(d.id == descriptor.id for d in descriptors):
                raise Conflict(f"the AssetAdministrationShellDescriptor {aas_id!r} has a SubmodelDescriptor "
                               f"{descriptor.id!r} already")
            return [*descriptors, descriptor]

        await self.edit_shell_submodels(aas_id, add)

    async def replace_shell_submodel(self, aas_id: str, descriptor: SubmodelDescriptor) -> None:
        def replace(descriptors: list[SubmodelDescriptor]) -> list[SubmodelDescriptor]:
            self.find_submodel(descriptors, aas_id, descriptor.id)
            return [descriptor if d.id == descriptor.id else d for d in descriptors]

        await self.edit_shell_submodels(aas_id, replace)

    async def delete_shell_submodel(self, aas_id: str, submodel_id: str) -> None:
        def delete(descriptors: list[SubmodelDescriptor]) -> list[SubmodelDescriptor]:
            self.find_submodel(descriptors, aas_id, submodel_id)
            return [d for d in descriptors if d.id != submodel_id]

        await self.edit_shell_submodels(aas_id, delete)

    # --------------------------------------------------------- submodels
    async def submodel(self, identifier: str) -> bytes:
        return await self._run(self.store.submodel, identifier)

    async def submodels(self, after: str | None, limit: int) -> Page:
        return await self._run(self.store.submodels, after, limit)

    async def save_submodel(self, descriptor: SubmodelDescriptor, *, create: bool | None) -> bytes:
        body = render(descriptor)
        await self._run(self.store.save_submodel, descriptor.id, body, create=create)
        return body

    async def delete_submodel(self, identifier: str) -> None:
        await self._run(self.store.delete_submodel, identifier)

    # ----------------------------------------------------------- queries
    async def query(self, root: Root, query: Query, after: str | None, limit: int, timeout_s: float) -> Matches:
        """A page of the (id, body) of the descriptors the query holds for, in id order, and the
        id to continue after (None at the end); TimedOut past ``timeout_s``."""
        deadline = Deadline(timeout_s, time.monotonic)
        holds = matcher(query, root, deadline)  # refuses other roots before any store call
        return await self._run(self._query, _TABLES[root], query, holds, deadline, after, limit)

    def _query(self, table: DescriptorTable, query: Query, holds: Callable[[Descriptor], bool], deadline: Deadline,
               after: str | None, limit: int) -> Matches:
        found: list[tuple[str, bytes]] = []
        while True:
            deadline.check()
            batch = self.store.candidates(table, query, after, SCAN_BATCH, deadline.remaining())
            for identifier, body in batch.rows:
                deadline.tick()
                if batch.exact or holds(orjson.loads(body)):
                    if len(found) == limit:  # one match beyond the page: there is a next page
                        return found, found[-1][0]
                    found.append((identifier, body))
            if batch.last is None:
                return found, None
            after = batch.last

    # --------------------------------------------------------- discovery
    async def lookup(self, pairs: Sequence[tuple[str, str]], after: str | None,
                     limit: int) -> tuple[list[str], str | None]:
        return await self._run(self.store.lookup, pairs, after, limit)

    async def links(self, aas_id: str) -> list[bytes]:
        return await self._run(self.store.links, aas_id)

    async def post_links(self, aas_id: str, links: Sequence[SpecificAssetId]) -> list[bytes]:
        rows = [Link(link.name, link.value, render(link)) for link in links]
        await self._run(self.store.post_links, aas_id, rows)
        return [row.body for row in rows]

    async def delete_links(self, aas_id: str) -> None:
        await self._run(self.store.delete_links, aas_id)
