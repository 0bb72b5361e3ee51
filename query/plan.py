"""Answering a query from indexes: which objects to ask, then the evaluator decides each.

A plan is the set of candidate objects a condition can possibly hold for, computed from the
repository's indexes (``Catalog``: ids, idShorts, semanticId keys, globalAssetIds; and the
``ValueIndexes`` of element values), as ascending sequence numbers so paging keeps the
repository's order and cursors:

- a comparison of an indexed field with a literal: the index's ids (``$sm#semanticId $eq``,
  ``$sme.<path>#value $lt 100``...);
- ``$and`` / ``$match``: the intersection of the children that have a plan (the smallest
  list walked, the others probed by bisection); ``$or``: the union if every child has one;
- ``$not``, casts, fields of another level of the hierarchy, anything else: every object.

The evaluator (``query.evaluate``) then decides each candidate in order until the page is full,
checking the deadline as it goes. Plans are supersets, never answers: a wrong index can only
cost time, and the property tests compare the plan's answers with the naive loop's.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from basyx.aas import model

from twinbridge.query.descriptors import Descriptor
from twinbridge.query.evaluate import Condition, compile_condition
from twinbridge.query.resolve import Deadline, Scope, World
from twinbridge.query.syntax import (
    Comparison,
    Constant,
    Expression,
    Field,
    Kind,
    Literal,
    Logical,
    Match,
    Query,
    QuerySyntaxError,
    Root,
    fields_of,
)
from twinbridge.query.value_index import ValueIndexes

_MIRRORED = {"$eq": "$eq", "$ne": "$ne", "$lt": "$gt", "$gt": "$lt", "$le": "$ge", "$ge": "$le"}
_ALLOWED_ROOTS = {Root.AAS: (Root.AAS, Root.SM, Root.SME), Root.SM: (Root.AAS, Root.SM, Root.SME),
                  Root.CD: (Root.CD,), Root.AASDESC: (Root.AASDESC,), Root.SMDESC: (Root.SMDESC,)}
_OWN_ROOTS = {Root.AAS: (Root.AAS,), Root.SM: (Root.SM, Root.SME), Root.CD: (Root.CD,)}
_REPOSITORY_NAMES = {Root.AAS: "shells", Root.SM: "submodels", Root.CD: "concept descriptions",
                     Root.AASDESC: "shell descriptors", Root.SMDESC: "submodel descriptors"}


class Catalog(Protocol):
    """What a plan needs of a repository's catalog (``server.api.catalog.Catalog`` adapts to it)."""

    def all_seqs(self) -> Sequence[int]: ...

    def seqs(self, attribute: str, value: str) -> Sequence[int] | None:
        """Ascending sequence numbers of the objects whose ``attribute`` (``idShort``,
        ``semanticKey``: any key of the semanticId, ``semanticFirstKey``, ``globalAssetId``)
        equals ``value``; None when that is not indexed."""

    def seq_of(self, identifier: str) -> int | None: ...

    def id_of(self, seq: int) -> str: ...

    def get(self, identifier: str) -> model.Identifiable: ...


@dataclass(frozen=True, slots=True)
class Candidates:
    """Ascending sequence numbers; ``exact``: the condition holds for every one of them (its
    indexes answer exactly where it is true), so the evaluator need not ask them."""

    seqs: Sequence[int]
    exact: bool


@dataclass(frozen=True, slots=True)
class Page:
    identifiers: list[str]
    after: int | None  # the cursor (a sequence number) of the next page, None at the end


class PageSource(Protocol):
    """Where a query route gets its page: ``Planner`` (the twin's objects in memory, indexes) or
    ``query.store_query.StorePlanner`` (the PostgreSQL store, in SQL)."""

    def page(self, query: Query, after: int, limit: int | None, timeout: float) -> Page: ...


def check_roots(query: Query, root: Root) -> None:
    """A shell or submodel query may use ``$aas``, ``$sm``, ``$sme``; a concept description
    query ``$cd`` only (and ``$cd`` nowhere else); a registry's shell descriptor query
    ``$aasdesc`` only (embedded submodel descriptors are ``$aasdesc#submodelDescriptors…``), its
    submodel descriptor query ``$smdesc`` only."""
    allowed = _ALLOWED_ROOTS[root]
    for field in fields_of(query.condition):
        if field.root not in allowed:
            raise QuerySyntaxError(field.position, f"{field.text!r} cannot be asked of "
                                                   f"{_REPOSITORY_NAMES[root]}")


class Planner:
    """Plans and runs queries against one repository (``root``: shells, submodels or concept descriptions)."""

    def __init__(self, root: Root, catalog: Catalog, world: World, values: ValueIndexes | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self.catalog = catalog
        self.world = world
        self.values = values
        self.clock = clock

    # ------------------------------------------------------------ planning
    def candidates(self, node: Expression) -> Candidates | None:
        """The objects the condition may hold for; None: every object."""
        if isinstance(node, Constant):
            return None if node.value else Candidates([], True)
        if isinstance(node, Comparison):
            return self._comparison(node)
        if isinstance(node, Match) or (isinstance(node, Logical) and node.op == "$and"):
            plans = [self.candidates(child) for child in node.children]
            planned = [plan for plan in plans if plan is not None]
            if not planned:
                return None
            exact = isinstance(node, Logical) and len(planned) == len(plans) and all(p.exact for p in planned)
            return Candidates(_intersection([plan.seqs for plan in planned]), exact)  # $match: same item too
        if isinstance(node, Logical):  # $or
            ors = [self.candidates(child) for child in node.children]
            if any(plan is None for plan in ors):
                return None
            # exact only if no child can be invalid: an object one child holds for and another is
            # invalid for (``"nl" $gt 0``) is invalid as a whole, and the union lists it
            exact = all(plan is not None and plan.exact for plan in ors) and not any(
                compile_condition(Query(child)).may_be_invalid for child in node.children)
            return Candidates(_union([plan.seqs for plan in ors if plan is not None]), exact)
        return None  # $not: everything the child does not hold for, which no index lists

    def _comparison(self, node: Comparison) -> Candidates | None:
        if isinstance(node.left, Field) and isinstance(node.right, Literal):
            field, op, literal = node.left, node.op, node.right
        elif isinstance(node.right, Field) and isinstance(node.left, Literal) and node.op in _MIRRORED:
            field, op, literal = node.right, _MIRRORED[node.op], node.left
        else:
            return None
        if field.root not in _OWN_ROOTS[self.root]:  # another level of the hierarchy: no index of ours
            return None
        attribute = field.attribute
        if field.root is Root.SME:
            if attribute.name != "value" or field.path is None or self.values is None:
                return None
            index = self.values.index_for(field)
            found = None if index is None else index.lookup(op, literal)
            return None if found is None else Candidates(self._seqs(found), True)
        if op != "$eq" or literal.kind is not Kind.STRING or literal.lexical == "":
            return None  # "" also equals a missing idShort or globalAssetId, which no catalog key lists
        text = literal.lexical
        if attribute.name == "id":
            seq = self.catalog.seq_of(text)
            return Candidates([] if seq is None else [seq], True)
        reference = attribute.reference
        if attribute.name == "semanticId" and reference is not None and reference.part == "keys" \
                and reference.key_part == "value":
            if reference.key_index == 0:
                return self._keyed("semanticFirstKey", text, True)
            return self._keyed("semanticKey", text, reference.key_index is None)  # [n]: any key is a superset
        if attribute.name in ("idShort", "globalAssetId"):
            return self._keyed(attribute.name, text, True)
        return None

    def _keyed(self, attribute: str, value: str, exact: bool) -> Candidates | None:
        seqs = self.catalog.seqs(attribute, value)
        return None if seqs is None else Candidates(seqs, exact)

    def _seqs(self, identifiers: Iterable[str]) -> list[int]:
        seq_of = self.catalog.seq_of
        return sorted(seq for identifier in identifiers if (seq := seq_of(identifier)) is not None)

    # ------------------------------------------------------------- running
    def scope(self, obj: model.Identifiable, deadline: Deadline) -> Scope:
        return Scope(self.root, obj, self.world, deadline)

    def matching(self, query: Query, after: int, deadline: Deadline,
                 condition: Condition | None = None) -> Iterator[int]:
        """Sequence numbers (ascending, after ``after``) of the objects the query holds for."""
        check_roots(query, self.root)
        condition = condition or compile_condition(query)
        planned = self.candidates(query.condition)
        seqs = self.catalog.all_seqs() if planned is None else planned.seqs
        start = bisect.bisect_right(seqs, after)
        if planned is not None and planned.exact:
            yield from seqs[start:]
            return
        id_of, get = self.catalog.id_of, self.catalog.get
        for index in range(start, len(seqs)):
            deadline.tick()
            seq = seqs[index]
            if condition.holds(Scope(self.root, get(id_of(seq)), self.world, deadline)):
                yield seq

    def page(self, query: Query, after: int, limit: int | None, timeout: float) -> Page:
        """One page of matching identifiers and the cursor of the next (found by looking one
        match ahead, so a cursor never leads to an empty page)."""
        deadline = Deadline(timeout, self.clock)
        deadline.check()
        chosen: list[int] = []
        more = False
        for seq in self.matching(query, after, deadline):
            if limit is not None and len(chosen) == limit:
                more = True
                break
            chosen.append(seq)
        id_of = self.catalog.id_of
        return Page([id_of(seq) for seq in chosen], chosen[-1] if more and chosen else None)


class _Alone:
    """The world of a registry descriptor: no other level to reach (``check_roots`` sees to it)."""

    def submodels_of(self, shell: model.AssetAdministrationShell) -> Iterable[model.Submodel]:
        return ()

    def shells_of(self, submodel: model.Submodel) -> Iterable[model.AssetAdministrationShell]:
        return ()


def matcher(query: Query, root: Root, deadline: Deadline,
            world: World | None = None) -> Callable[[model.Identifiable | Descriptor], bool]:
    """Whether the query holds for one object (a descriptor's JSON for ``$aasdesc``/``$smdesc``),
    its condition compiled once; ``world`` is where fields of another level are looked up."""
    check_roots(query, root)
    condition = compile_condition(query)
    around: World = world if world is not None else _Alone()
    return lambda obj: condition.holds(Scope(root, obj, around, deadline))


def naive(query: Query, root: Root, objects: Iterable[model.Identifiable], world: World,
          timeout: float = 60.0) -> list[str]:
    """Every object the query holds for, asking each in turn (the reference the plans are
    tested and measured against)."""
    check_roots(query, root)
    condition = compile_condition(query)
    deadline = Deadline(timeout, time.monotonic)
    return [obj.id for obj in objects if condition.holds(Scope(root, obj, world, deadline))]


# -------------------------------------------------------- list algebra
def _contains(seqs: Sequence[int], seq: int) -> bool:
    index = bisect.bisect_left(seqs, seq)
    return index < len(seqs) and seqs[index] == seq


def _intersection(plans: list[Sequence[int]]) -> Sequence[int]:
    plans = sorted(plans, key=len)
    first, others = plans[0], plans[1:]
    if not others:
        return first
    return [seq for seq in first if all(_contains(other, seq) for other in others)]


def _union(plans: list[Sequence[int]]) -> list[int]:
    return sorted(set().union(*plans))  # C-speed: 3x heapq.merge on 100,000 sequence numbers
