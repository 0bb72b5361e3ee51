"""Keeps a registry's descriptors in step with one repository: the twin's structure events in,
descriptor PUTs and DELETEs out.

State, not events, is sent: a change marks its shell or submodel *due*; the sender takes a due
id, looks at the twin as it is now and registers its current descriptor (or deletes it when the
object is gone). So many changes of one shell cost one PUT, a late retry never writes stale
content, and order between ids does not matter. A submodel change also makes due every shell
that references it (their descriptors embed the submodel's). Element edits change no
descriptor and are ignored.

On start (and when the bus says structure events were lost) every shell and submodel is made
due, and descriptors the registry holds with an endpoint of this repository that the twin no
longer has are deleted: a registry that drifted while the repository was down is put right.

A registry over HTTP that serves Discovery too (its ``/description`` names a
DiscoveryServiceSpecification profile) also gets each shell's asset links (its globalAssetId as
``globalAssetId`` and its specificAssetIds) through ``POST /lookup/shells/{aasIdentifier}``: a
registry of another make keeps Discovery apart from its descriptors and would otherwise find
no shell by asset id. Discovery has no PUT, so changed links are a DELETE and a POST (a lookup
between the two misses the shell for that moment); unchanged links are not sent again.

A failing registry (down, 5xx) is retried with backoff (0.5 s doubling to 30 s) until it
answers; the due set is bounded by the number of objects. A registry that refuses a
descriptor (4xx) is logged and the id dropped: it would refuse it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar, Protocol

import httpx
import orjson
from basyx.aas import model

from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.following import Relay
from twinbridge.aas.twin import Twin
from twinbridge.registry.descriptors import (
    AssetAdministrationShellDescriptor,
    SpecificAssetId,
    SubmodelDescriptor,
    render,
)
from twinbridge.registry.of_twin import OpcUaAddress, shell_descriptor, submodel_descriptor, submodel_ids
from twinbridge.registry.service import RegistryService
from twinbridge.server.api.ids import encode_id

log = logging.getLogger(__name__)

SHELL, SUBMODEL = "shell", "submodel"
Due = tuple[str, str]
"""(SHELL or SUBMODEL, identifier)."""

_BACKOFF_FIRST_S, _BACKOFF_MAX_S = 0.5, 30.0


class Refused(Exception):
    """The registry understood the request and will not take it (4xx): retrying will not help."""


class DescriptorSink(Protocol):
    """Where descriptors go: a registry in this process or one over HTTP."""

    async def put_shell(self, descriptor: AssetAdministrationShellDescriptor) -> None: ...
    async def delete_shell(self, identifier: str) -> None: ...
    async def put_submodel(self, descriptor: SubmodelDescriptor) -> None: ...
    async def delete_submodel(self, identifier: str) -> None: ...

    async def put_links(self, aas_id: str, links: list[SpecificAssetId]) -> None:
        """Make ``links`` the Discovery asset links of the shell (where discovery is apart from descriptors)."""
        ...

    async def delete_links(self, aas_id: str) -> None: ...

    def registered(self, kind: str) -> AsyncIterator[tuple[str, list[str]]]:
        """Every descriptor of ``kind`` the registry holds: (id, endpoint hrefs)."""
        ...


def _hrefs(document: Mapping[str, object]) -> list[str]:
    endpoints = document.get("endpoints")
    if not isinstance(endpoints, list):
        return []
    return [str(e["protocolInformation"]["href"]) for e in endpoints
            if isinstance(e, dict) and isinstance(e.get("protocolInformation"), dict)
            and "href" in e["protocolInformation"]]


class LocalSink:
    """The registry mounted in this process."""

    def __init__(self, service: RegistryService) -> None:
        self.service = service

    async def put_shell(self, descriptor: AssetAdministrationShellDescriptor) -> None:
        await self.service.save_shell(descriptor, create=None)

    async def delete_shell(self, identifier: str) -> None:
        with contextlib.suppress(NotFound):
            await self.service.delete_shell(identifier)

    async def put_submodel(self, descriptor: SubmodelDescriptor) -> None:
        await self.service.save_submodel(descriptor, create=None)

    async def delete_submodel(self, identifier: str) -> None:
        with contextlib.suppress(NotFound):
            await self.service.delete_submodel(identifier)

    async def put_links(self, aas_id: str, links: list[SpecificAssetId]) -> None:
        """Nothing to do: this registry's Discovery finds a shell by its descriptor's asset ids."""

    async def delete_links(self, aas_id: str) -> None:
        """Nothing to do: the links went with the descriptor."""

    async def registered(self, kind: str) -> AsyncIterator[tuple[str, list[str]]]:
        after = None
        while True:
            if kind == SHELL:
                bodies, after = await self.service.shells(None, None, after, 1_000)
            else:
                bodies, after = await self.service.submodels(after, 1_000)
            for body in bodies:
                document = orjson.loads(body)
                yield document["id"], _hrefs(document)
            if after is None:
                return


class HttpSink:
    """A Part 2 registry over HTTP (twinbridge's, BaSyx's, any SSP-001 one). PUT answers 404 for a
    descriptor the registry lacks (as the profile says): then it is POSTed."""

    _COLLECTIONS: ClassVar[dict[str, str]] = {SHELL: "shell-descriptors", SUBMODEL: "submodel-descriptors"}

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self.discovery: bool | None = None
        """Whether the registry serves Discovery (None until its ``/description`` answered)."""
        self._links: dict[str, bytes] = {}  # shell id -> the links last posted for it

    async def _serves_discovery(self) -> bool:
        if self.discovery is None:
            response = await self.client.get("/description")
            if response.status_code >= 500:
                response.raise_for_status()  # down or failing: retried with the feeder's backoff
            profiles = response.json().get("profiles", []) if response.status_code == 200 else []
            self.discovery = any("/DiscoveryServiceSpecification/" in str(p) for p in profiles)
            if not self.discovery:
                log.info("registry feeder: %s names no Discovery profile; asset links are not posted",
                         self.base_url)
        return self.discovery

    async def close(self) -> None:
        await self.client.aclose()

    @staticmethod
    def _check(response: httpx.Response, *ok: int) -> None:
        if response.status_code in ok:
            return
        if 400 <= response.status_code < 500:
            raise Refused(f"{response.request.method} {response.request.url}: {response.status_code} "
                          f"{response.text[:300]}")
        response.raise_for_status()

    async def _put(self, kind: str, identifier: str, body: bytes) -> None:
        collection = self._COLLECTIONS[kind]
        headers = {"Content-Type": "application/json"}
        for _ in range(3):  # PUT, else POST; a POST that lost a race to another feeder: PUT again
            response = await self.client.put(f"/{collection}/{encode_id(identifier)}", content=body, headers=headers)
            if response.status_code != 404:
                self._check(response, 200, 201, 204)
                return
            response = await self.client.post(f"/{collection}", content=body, headers=headers)
            if response.status_code != 409:
                self._check(response, 200, 201)
                return
        raise Refused(f"{kind} descriptor {identifier!r}: the registry keeps answering 404 to PUT and 409 to POST")

    async def _delete(self, kind: str, identifier: str) -> None:
        response = await self.client.delete(f"/{self._COLLECTIONS[kind]}/{encode_id(identifier)}")
        self._check(response, 200, 204, 404)

    async def put_shell(self, descriptor: AssetAdministrationShellDescriptor) -> None:
        await self._put(SHELL, descriptor.id, render(descriptor))

    async def delete_shell(self, identifier: str) -> None:
        await self._delete(SHELL, identifier)

    async def put_submodel(self, descriptor: SubmodelDescriptor) -> None:
        await self._put(SUBMODEL, descriptor.id, render(descriptor))

    async def delete_submodel(self, identifier: str) -> None:
        await self._delete(SUBMODEL, identifier)

    async def put_links(self, aas_id: str, links: list[SpecificAssetId]) -> None:
        body = b"[" + b",".join(render(link) for link in links) + b"]"
        if not await self._serves_discovery() or self._links.get(aas_id) == body:
            return
        path = f"/lookup/shells/{encode_id(aas_id)}"
        for _ in range(2):  # a POST that lost a race to another feeder: DELETE and POST again
            self._links.pop(aas_id, None)
            self._check(await self.client.delete(path), 200, 204, 404)
            if not links:
                break
            response = await self.client.post(path, content=body, headers={"Content-Type": "application/json"})
            if response.status_code != 409:
                self._check(response, 200, 201)
                break
        else:
            raise Refused(f"asset links of {aas_id!r}: the registry keeps answering 409 to POST after DELETE")
        self._links[aas_id] = body

    async def delete_links(self, aas_id: str) -> None:
        if not await self._serves_discovery():
            return
        self._links.pop(aas_id, None)
        self._check(await self.client.delete(f"/lookup/shells/{encode_id(aas_id)}"), 200, 204, 404)

    async def registered(self, kind: str) -> AsyncIterator[tuple[str, list[str]]]:
        cursor: str | None = None
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            response = await self.client.get(f"/{self._COLLECTIONS[kind]}", params=params)
            self._check(response, 200)
            page = response.json()
            for document in page.get("result", []):
                yield document["id"], _hrefs(document)
            cursor = (page.get("paging_metadata") or {}).get("cursor")
            if not cursor:
                return


class RegistryFeeder:
    """A ``Service``: registers this repository's shells and submodels and keeps them current."""

    def __init__(self, twin: Twin, sink: DescriptorSink, base_url: str, opcua: OpcUaAddress | None = None) -> None:
        self.twin = twin
        self.sink = sink
        self.base_url = base_url.rstrip("/")
        self.opcua = opcua
        self._relay = Relay(Follower(twin.bus, self._handle, "registry feeder", structure_only=True),
                            self._send_forever)
        self._due: dict[Due, None] = {}  # insertion-ordered set
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._referenced_by: dict[str, set[str]] = {}  # submodel id -> ids of shells referencing it
        self._references: dict[str, list[str]] = {}  # shell id -> the submodel ids it was indexed under
        self._reconciled = False
        self.sent = 0
        self.failures = 0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._relay.subscribe()  # before the full sync: nothing between the two is missed
        self._make_all_due()
        self._relay.start()

    async def stop(self) -> None:
        await self._relay.stop()
        close = getattr(self.sink, "close", None)
        if close is not None:
            await close()

    def banner_lines(self) -> list[str]:
        target = self.sink.base_url if isinstance(self.sink, HttpSink) else "this process"
        return [f"  registry: descriptors of this repository kept in the registry at {target}"]

    async def synced(self) -> None:
        """Return once nothing is due and the registry answered everything sent (tests, shutdown)."""
        await self.twin.bus.drained()
        while self._due or not self._idle.is_set():
            await asyncio.sleep(0.01)

    # --------------------------------------------------------- bus side
    async def _handle(self, batch: ChangeBatch) -> None:
        if batch.overflowed:
            log.warning("registry feeder: structure events were lost; re-registering everything")
            self._make_all_due()
            return
        for change in batch.structure:
            if change.path is not None or change.object_kind is ObjectKind.CONCEPT_DESCRIPTION:
                continue
            if change.object_kind is ObjectKind.SHELL:
                self._mark((SHELL, change.identifier))
            else:
                self._mark((SUBMODEL, change.identifier))
                for shell_id in self._referencing(change.identifier):
                    self._mark((SHELL, shell_id))

    def _mark(self, due: Due) -> None:
        self._due[due] = None
        self._wakeup.set()

    def _make_all_due(self) -> None:
        self._referenced_by.clear()
        self._references.clear()
        if self.twin.shell_source is not None:  # bounded shells: their ids only (each is read when sent)
            for identifier in self.twin.shells:
                self._mark((SHELL, identifier))
        else:
            for shell in self.twin.shells.values():
                self._index(shell)
                self._mark((SHELL, shell.id))
        for identifier in self.twin.submodels:
            self._mark((SUBMODEL, identifier))
        self._reconciled = False

    def _referencing(self, submodel_id: str) -> list[str]:
        """The shells whose descriptors list the submodel. With bounded shells (``?cache=N``) the
        store's index answers (the reverse index here held ~520 bytes per shell: 1M shells, ~500 MiB)."""
        source = self.twin.shell_source
        if source is None:
            return list(self._referenced_by.get(submodel_id, ()))
        return source.referencing([submodel_id])

    def _index(self, shell: model.AssetAdministrationShell) -> None:
        if self.twin.shell_source is not None:
            return
        references = self._references[shell.id] = submodel_ids(shell)
        for submodel_id in references:
            self._referenced_by.setdefault(submodel_id, set()).add(shell.id)

    def _unindex(self, shell_id: str) -> None:
        for submodel_id in self._references.pop(shell_id, ()):
            shells = self._referenced_by.get(submodel_id)
            if shells is not None:
                shells.discard(shell_id)
                if not shells:
                    del self._referenced_by[submodel_id]

    # ------------------------------------------------------- sender side
    async def _send_forever(self) -> None:
        backoff = _BACKOFF_FIRST_S
        while True:
            if not self._due and self._reconciled:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            self._idle.clear()
            try:
                if not self._reconciled:
                    await self._reconcile()
                    self._reconciled = True
                while self._due:
                    due = next(iter(self._due))
                    try:
                        await self._send(due)
                        self.sent += 1
                    except Refused as error:
                        log.error("the registry refused the %s descriptor %r; not retried: %s", *due, error)
                    self._due.pop(due, None)
                backoff = _BACKOFF_FIRST_S
            except (httpx.HTTPError, OSError) as error:
                self.failures += 1
                log.warning("registry unreachable (%s); retrying in %.1f s", error or type(error).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)

    async def _send(self, due: Due) -> None:
        kind, identifier = due
        if kind == SHELL:
            shell = self.twin.shells.get(identifier)
            self._unindex(identifier)
            if shell is None:
                await self.sink.delete_shell(identifier)
                await self.sink.delete_links(identifier)
                return
            self._index(shell)
            descriptor = shell_descriptor(shell, self.twin.submodels, self.base_url, self.opcua)
            await self.sink.put_shell(descriptor)
            await self.sink.put_links(identifier, descriptor.asset_links())
            return
        submodel = self.twin.submodels.get(identifier)
        if submodel is None:
            await self.sink.delete_submodel(identifier)
        else:
            await self.sink.put_submodel(submodel_descriptor(submodel, self.base_url, self.opcua))

    async def _reconcile(self) -> None:
        """Delete descriptors that point at this repository for objects it no longer holds."""
        try:
            await self._find_stale()
        except Refused as error:  # a registry that will not list: nothing to put right from here
            log.warning("registry feeder: cannot list the registry's descriptors: %s", error)

    async def _find_stale(self) -> None:
        for kind, collection, held in ((SHELL, "shells", self.twin.shells), (SUBMODEL, "submodels",
                                                                              self.twin.submodels)):
            ours = f"{self.base_url}/{collection}/"
            async for identifier, hrefs in self.sink.registered(kind):
                if identifier not in held and any(href.startswith(ours) for href in hrefs):
                    self._due[(kind, identifier)] = None
