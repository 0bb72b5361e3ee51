"""Evaluating a condition on one object: the language's semantics, in one place.

``compile_condition`` turns the syntax tree into closures once per query; ``Condition.holds``
answers for one shell, submodel or concept description. Every strategy of ``query.plan`` ends
here: indexes only choose which objects to ask, so the plan's answer is the naive loop's by
construction (and the property tests check the indexes never leave one out).

Semantics (clause "Comparison Operators"): a comparison between fields holds when *some* pair of
their values satisfies it ("at least one element has to fulfill the comparison"). Its result is
invalid when no pair satisfies it and some pair could not be compared (a failed cast); "any
further combinations with the invalid result will also have an invalid result", so ``$and``,
``$or`` and ``$not`` propagate it and an object whose condition is invalid is not returned.
A subtree that cannot be invalid (no casts, no ordering of a field against a typed literal)
short-circuits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twinbridge.query.patterns import matches
from twinbridge.query.resolve import Bindings, Resolved, Scope
from twinbridge.query.syntax import (
    Cast,
    Comparison,
    Constant,
    DatePart,
    Expression,
    Field,
    Kind,
    Literal,
    Logical,
    Match,
    Not,
    Operand,
    Query,
    static_kind,
)
from twinbridge.query.values import INVALID, cast, lexical, ordered, to_string

Truth = bool | None  # None: invalid
Test = Callable[[Scope], Truth]
BindingTest = Callable[[Scope], tuple[list[Bindings], bool]]  # satisfying bindings, saw an invalid pair

_NO_BINDINGS: Bindings = {}
MAX_MATCH_COMBINATIONS = 10_000
"""Partial combinations a ``$match`` keeps while joining its children (bounds nested ``[]``)."""


@dataclass(frozen=True, slots=True)
class Condition:
    test: Test
    may_be_invalid: bool

    def holds(self, scope: Scope) -> bool:
        return self.test(scope) is True


# -------------------------------------------------------------- operands
def _operand(operand: Operand) -> Callable[[Scope], Resolved]:
    if isinstance(operand, Field):
        return lambda scope: scope.resolve(operand)
    if isinstance(operand, Literal):
        constant: Resolved = [(_NO_BINDINGS, operand.value)]
        return lambda scope: constant
    if isinstance(operand, DatePart):
        moment = operand.value
        number = {"$dayOfWeek": moment.isoweekday() % 7, "$dayOfMonth": moment.day, "$month": moment.month,
                  "$year": moment.year}[operand.part]  # dayOfWeek: 0 = Sunday, as in XPath-based ACL rules
        part: Resolved = [(_NO_BINDINGS, number)]
        return lambda scope: part
    inner = _operand(operand.operand)
    kind = operand.kind
    return lambda scope: [(bindings, cast(value, kind)) for bindings, value in inner(scope)]


def _may_fail(operand: Operand) -> bool:
    return isinstance(operand, Cast)


def _pair_test(comparison: Comparison) -> Callable[[object, object], Truth]:
    """The test of one (left value, right value) pair, chosen once from the static types."""
    op = comparison.op
    if op in ("$contains", "$starts-with", "$ends-with", "$regex"):
        def string_test(left: object, right: object) -> Truth:
            if left is INVALID or right is INVALID:
                return None
            text, other = to_string(left), to_string(right)
            if op == "$contains":
                return other in text
            if op == "$starts-with":
                return text.startswith(other)
            if op == "$ends-with":
                return text.endswith(other)
            return matches(text, other)
        return string_test

    left_kind, right_kind = static_kind(comparison.left), static_kind(comparison.right)
    if left_kind is None and right_kind is None:
        return lambda left, right: ordered(op, to_string(left), to_string(right))
    if left_kind is None or right_kind is None:
        field_left = left_kind is None
        kind: Kind = right_kind if field_left else left_kind  # type: ignore[assignment]
        equality = op in ("$eq", "$ne")

        def field_test(left: object, right: object) -> Truth:
            raw, typed = (left, right) if field_left else (right, left)
            if typed is INVALID:
                return None
            value = cast(raw, kind)
            if value is INVALID:  # "17 is implicitly casted to the string '17'" (spec table)
                if not equality or raw is INVALID:
                    return None
                raw_text, typed_text = to_string(raw), lexical(typed, kind)
                return ordered(op, raw_text, typed_text) if field_left else ordered(op, typed_text, raw_text)
            try:
                return ordered(op, value, typed) if field_left else ordered(op, typed, value)
            except TypeError:
                return None
        return field_test

    def typed_test(left: object, right: object) -> Truth:
        if left is INVALID or right is INVALID:
            return None
        try:
            return ordered(op, left, right)
        except TypeError:
            return None
    return typed_test


def _comparison_may_be_invalid(comparison: Comparison) -> bool:
    if _may_fail(comparison.left) or _may_fail(comparison.right):
        return True
    if comparison.op == "$regex":
        return not isinstance(comparison.right, Literal)
    if comparison.op in ("$contains", "$starts-with", "$ends-with"):
        return False
    kinds = (static_kind(comparison.left), static_kind(comparison.right))
    if None in kinds and kinds != (None, None):
        return comparison.op not in ("$eq", "$ne")
    return False


# ----------------------------------------------------------- comparisons
def _comparison(comparison: Comparison) -> Test:
    left, right, pair = _operand(comparison.left), _operand(comparison.right), _pair_test(comparison)

    def test(scope: Scope) -> Truth:
        invalid = False
        rights = right(scope)
        for _, left_value in left(scope):
            for _, right_value in rights:
                result = pair(left_value, right_value)
                if result:
                    return True
                if result is None:
                    invalid = True
        return None if invalid else False
    return test


def _merge(first: Bindings, second: Bindings) -> Bindings | None:
    """Both bindings together, or None where they name different items for one list or element."""
    if not first:
        return second
    if not second:
        return first
    merged = dict(first)
    for key, value in second.items():
        known = merged.get(key, value)
        if known != value:
            return None
        merged[key] = value
    return merged


def _comparison_bindings(comparison: Comparison) -> BindingTest:
    left, right, pair = _operand(comparison.left), _operand(comparison.right), _pair_test(comparison)

    def bindings(scope: Scope) -> tuple[list[Bindings], bool]:
        found: list[Bindings] = []
        invalid = False
        rights = right(scope)
        for left_bindings, left_value in left(scope):
            for right_bindings, right_value in rights:
                merged = _merge(left_bindings, right_bindings)
                if merged is None:
                    continue
                result = pair(left_value, right_value)
                if result:
                    found.append(merged)
                elif result is None:
                    invalid = True
        return found, invalid
    return bindings


def _match_bindings(match: Match) -> BindingTest:
    children = [_match_bindings(child) if isinstance(child, Match) else _comparison_bindings(child)
                for child in match.children]

    def bindings(scope: Scope) -> tuple[list[Bindings], bool]:
        combined: list[Bindings] = [_NO_BINDINGS]
        invalid = False
        for child in children:
            found, child_invalid = child(scope)
            invalid = invalid or child_invalid
            joined: list[Bindings] = []
            for partial in combined:
                for candidate in found:
                    merged = _merge(partial, candidate)
                    if merged is not None:
                        joined.append(merged)
                        if len(joined) >= MAX_MATCH_COMBINATIONS:
                            break
                scope.deadline.tick()
            combined = joined
            if not combined:
                break
        return combined, invalid
    return bindings


# ----------------------------------------------------------- expressions
def _compile(node: Expression) -> tuple[Test, bool]:
    if isinstance(node, Constant):
        value = node.value
        return (lambda scope: value), False
    if isinstance(node, Comparison):
        return _comparison(node), _comparison_may_be_invalid(node)
    if isinstance(node, Match):
        joined = _match_bindings(node)

        def match(scope: Scope) -> Truth:
            found, invalid = joined(scope)
            return True if found else (None if invalid else False)
        return match, True
    if isinstance(node, Not):
        child, child_invalid = _compile(node.child)

        def negate(scope: Scope) -> Truth:
            result = child(scope)
            return None if result is None else not result
        return negate, child_invalid
    return _logical(node)


def _logical(node: Logical) -> tuple[Test, bool]:
    compiled = [_compile(child) for child in node.children]
    tests = [test for test, _ in compiled]
    may_be_invalid = any(invalid for _, invalid in compiled)
    decisive = node.op == "$or"  # the value that decides an $or (True) or an $and (False)

    if not may_be_invalid:
        if decisive:
            return (lambda scope: any(test(scope) for test in tests)), False
        return (lambda scope: all(test(scope) for test in tests)), False

    def strict(scope: Scope) -> Truth:
        decided = False
        for test in tests:  # every child: an invalid one anywhere makes the whole invalid
            result = test(scope)
            if result is None:
                return None
            if result is decisive:
                decided = True
        return decisive if decided else not decisive
    return strict, True


def compile_condition(query: Query) -> Condition:
    test, may_be_invalid = _compile(query.condition)
    return Condition(test, may_be_invalid)
