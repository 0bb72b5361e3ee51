"""What a ``$aasdesc#…`` / ``$smdesc#…`` field reads out of a registry descriptor.

Descriptors are answered as the JSON the registry keeps (``registry.store``), so they are read
here as that JSON, not as model objects: the values a field yields are exactly the strings of
the descriptor's document, which is also what ``query.sql`` compares in PostgreSQL. As for
shells, an absent ``idShort``, ``assetKind``, ``assetType`` or ``globalAssetId`` reads as the
empty string (the specification's example table: "both items are empty, therefore, they are
equal"); an absent list or Reference yields nothing.

Bindings follow ``query.resolve``: one key per ``[]`` named by the field's text up to that
list (``$aasdesc#specificAssetIds[]``, ``$aasdesc#submodelDescriptors[].endpoints[]``…), so
``$match`` ties "the same SpecificAssetId" or "the same SubmodelDescriptor" together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from twinbridge.query.syntax import Attribute, Field, ReferenceClause, Root

Bindings = dict[str, object]
Descriptor = Mapping[str, object]

_OPTIONAL_TEXT = ("idShort", "assetKind", "assetType", "globalAssetId")


def _items(value: object, item: int | None) -> Iterable[tuple[int, object]]:
    """The indexed items of a JSON list: all of them (``[]``, no index) or the one at ``item``."""
    if not isinstance(value, list):
        return ()
    if item is None:
        return enumerate(value)
    return ((item, value[item]),) if item < len(value) else ()


def _text(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value


def _reference(reference: object, clause: ReferenceClause, bindings: Bindings,
               key_name: str) -> Iterator[tuple[Bindings, object]]:
    if not isinstance(reference, Mapping):
        return
    if clause.part == "type":
        for text in _text(reference.get("type")):
            yield bindings, text
        return
    for index, key in _items(reference.get("keys"), clause.key_index):
        if isinstance(key, Mapping):
            for text in _text(key.get(clause.key_part)):
                yield {**bindings, key_name: index}, text


def _endpoints(descriptor: Descriptor, attribute: Attribute, bindings: Bindings,
               key: str) -> Iterator[tuple[Bindings, object]]:
    for index, endpoint in _items(descriptor.get("endpoints"), attribute.item):
        if not isinstance(endpoint, Mapping):
            continue
        if attribute.member == "interface":
            value = endpoint.get("interface")
        else:
            information = endpoint.get("protocolInformation")
            value = information.get("href") if isinstance(information, Mapping) else None
        for text in _text(value):
            yield {**bindings, key: index}, text


def _common(descriptor: Descriptor, attribute: Attribute, bindings: Bindings,
            prefix: str) -> Iterator[tuple[Bindings, object]]:
    """``id``, ``idShort``, ``semanticId…`` and ``endpoints…``: what both descriptors have."""
    name = attribute.name
    if name == "id":
        yield from ((bindings, text) for text in _text(descriptor.get("id")))
    elif name == "idShort":
        value = descriptor.get("idShort")
        yield bindings, value if isinstance(value, str) else ""
    elif name == "semanticId":
        assert attribute.reference is not None
        yield from _reference(descriptor.get("semanticId"), attribute.reference, bindings,
                              prefix + "semanticId.keys[]")
    elif name == "endpoints":
        yield from _endpoints(descriptor, attribute, bindings, prefix + "endpoints[]")


def _shell_descriptor(descriptor: Descriptor, attribute: Attribute) -> Iterator[tuple[Bindings, object]]:
    name, prefix = attribute.name, "$aasdesc#"
    if name in _OPTIONAL_TEXT:
        value = descriptor.get(name)
        yield {}, value if isinstance(value, str) else ""
    elif name == "specificAssetIds":
        key = prefix + "specificAssetIds[]"
        for index, asset in _items(descriptor.get("specificAssetIds"), attribute.item):
            if not isinstance(asset, Mapping):
                continue
            item: Bindings = {key: index}
            if attribute.member in ("name", "value"):
                yield from ((item, text) for text in _text(asset.get(attribute.member)))
            else:
                assert attribute.reference is not None
                yield from _reference(asset.get("externalSubjectId"), attribute.reference, item,
                                      key + ".externalSubjectId.keys[]")
    elif name == "submodelDescriptors":
        assert attribute.inner is not None
        key = prefix + "submodelDescriptors[]"
        for index, submodel in _items(descriptor.get("submodelDescriptors"), attribute.item):
            if isinstance(submodel, Mapping):
                yield from _common(submodel, attribute.inner, {key: index}, key + ".")
    else:
        yield from _common(descriptor, attribute, {}, prefix)


def descriptor_values(field: Field, descriptor: Descriptor) -> Iterator[tuple[Bindings, object]]:
    """The values ``field`` reads in ``descriptor`` (a shell descriptor for ``$aasdesc``, a
    submodel descriptor for ``$smdesc``), each with its bindings."""
    if field.root is Root.AASDESC:
        yield from _shell_descriptor(descriptor, field.attribute)
    elif field.root is Root.SMDESC:
        yield from _common(descriptor, field.attribute, {}, "$smdesc#")
