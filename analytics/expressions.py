"""Virtual (fused) properties: values computed from other elements by a small, safe expression language.

Why not ``eval``: plant files come from users; an expression must not reach Python. The text is
parsed with :mod:`ast` (Python's own grammar, so precedence and error positions are the familiar
ones) and only a whitelist of nodes is compiled, into a tree of closures. Everything else is an
error naming the property and the column.

Language: numbers, ``true``/``false``; ``+ - * / % **``, comparisons, ``and or not``,
``a if condition else b``; functions ``min max abs sqrt clamp(x, low, high)``; references to other
elements by idShortPath (``Motor.Power``, ``Sensors[0].Value``) or by semanticId
(``sid("https://example.com/ids/power")``). Example: ``Power / max(Throughput, 0.001)``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from twinbridge.aas.quality import Quality

Inputs = Mapping[str, float]
Compiled = Callable[[Inputs], float]

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {  # name -> (function, min args, max args)
    "min": (min, 2, 16), "max": (max, 2, 16), "abs": (abs, 1, 1), "sqrt": (math.sqrt, 1, 1),
    "clamp": (lambda x, low, high: min(max(x, low), high), 3, 3),
}
_CONSTANTS = {"true": 1.0, "false": 0.0}
SEMANTIC_ID = "sid"


class ExpressionError(ValueError):
    """An expression that cannot be compiled or evaluated; the message names property and column."""


@dataclass(frozen=True)
class Expression:
    """A compiled expression: its text, the references it reads and the evaluator."""

    text: str
    references: frozenset[str]
    evaluate: Compiled


def compile_expression(text: str, where: str = "expression") -> Expression:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"{where}: syntax error at column {error.offset or 0}: {error.msg}") from None
    references: set[str] = set()
    evaluate = _Compiler(where, references).compile(tree.body)
    return Expression(text, frozenset(references), evaluate)


class _Compiler:
    def __init__(self, where: str, references: set[str]) -> None:
        self.where = where
        self.references = references

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        column = getattr(node, "col_offset", -1) + 1
        return ExpressionError(f"{self.where}: {message} at column {column}")

    def compile(self, node: ast.expr) -> Compiled:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            return self._reference(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BoolOp):
            return self._boolean(node)
        if isinstance(node, ast.IfExp):
            condition, then, otherwise = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)
            return lambda values: then(values) if condition(values) else otherwise(values)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.fail(node, f"{type(node).__name__} is not allowed")

    def _constant(self, node: ast.Constant) -> Compiled:
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise self.fail(node, f"constant {node.value!r} is not a number")
        number = float(node.value)
        return lambda values: number

    def _reference(self, node: ast.expr) -> Compiled:
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            number = _CONSTANTS[node.id]
            return lambda values: number
        path = self._path(node)
        self.references.add(path)
        return lambda values: values[path]

    def _path(self, node: ast.expr) -> str:
        """Name, Name.Name, Name[0].Name ... as an idShortPath."""
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            return f"{self._path(node.value)}.{node.attr}"
        if isinstance(node, ast.Subscript):
            index = node.slice
            if not (isinstance(index, ast.Constant) and isinstance(index.value, int)
                    and not isinstance(index.value, bool)):
                raise self.fail(node, "an index must be a whole number, as in Sensors[0]")
            return f"{self._path(node.value)}[{index.value}]"
        raise self.fail(node, "a reference must be an idShortPath such as Motor.Power")

    def _binary(self, node: ast.BinOp) -> Compiled:
        function = _BINARY.get(type(node.op))
        if function is None:
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        left, right = self.compile(node.left), self.compile(node.right)
        return lambda values: function(left(values), right(values))

    def _unary(self, node: ast.UnaryOp) -> Compiled:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.USub):
            return lambda values: -operand(values)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return lambda values: 0.0 if operand(values) else 1.0
        raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")

    def _compare(self, node: ast.Compare) -> Compiled:
        operands = [self.compile(node.left), *(self.compile(c) for c in node.comparators)]
        checks = []
        for op in node.ops:
            check = _COMPARE.get(type(op))
            if check is None:
                raise self.fail(node, f"comparison {type(op).__name__} is not allowed")
            checks.append(check)

        def compare(values: Inputs) -> float:
            left = operands[0](values)
            for check, right_of in zip(checks, operands[1:], strict=True):
                right = right_of(values)
                if not check(left, right):
                    return 0.0
                left = right
            return 1.0

        return compare

    def _boolean(self, node: ast.BoolOp) -> Compiled:
        parts = [self.compile(value) for value in node.values]
        if isinstance(node.op, ast.And):
            return lambda values: 1.0 if all(part(values) for part in parts) else 0.0
        return lambda values: 1.0 if any(part(values) for part in parts) else 0.0

    def _call(self, node: ast.Call) -> Compiled:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise self.fail(node, "only plain calls such as max(a, b) are allowed")
        name = node.func.id
        if name == SEMANTIC_ID:
            if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) or not isinstance(
                    node.args[0].value, str):
                raise self.fail(node, 'sid() takes one quoted semanticId, as in sid("https://...")')
            reference = f"{SEMANTIC_ID}:{node.args[0].value}"
            self.references.add(reference)
            return lambda values: values[reference]
        if name not in _FUNCTIONS:
            raise self.fail(node, f"unknown function {name!r}; known: {', '.join(sorted(_FUNCTIONS))}, sid")
        function, least, most = _FUNCTIONS[name]
        if not least <= len(node.args) <= most:
            raise self.fail(node, f"{name}() takes {least}" + (f" to {most}" if most != least else "")
                            + f" arguments, got {len(node.args)}")
        arguments = [self.compile(argument) for argument in node.args]
        return lambda values: float(function(*(argument(values) for argument in arguments)))


@dataclass(frozen=True)
class VirtualValue:
    """A computed value with the worst quality of its inputs (Bad, with the reason, if it failed)."""

    value: float
    quality: Quality
    reason: str | None = None


_SEVERITY = {Quality.GOOD: 0, Quality.UNCERTAIN: 1, Quality.BAD: 2}


class VirtualProperties:
    """A set of virtual properties (target path -> expression), checked as a whole.

    ``known`` are the references that exist in the twin (idShortPaths and ``sid:...``); a virtual
    property may read another one. Unknown names and cycles are errors at construction, naming the
    property. ``affected(reference)`` gives the targets to recompute, in dependency order, when an
    input changes; ``evaluate`` computes one with the worst quality of its inputs.
    """

    def __init__(self, definitions: Mapping[str, str], known: Iterable[str]) -> None:
        self.expressions = {target: compile_expression(text, f"virtual property {target!r}")
                            for target, text in definitions.items()}
        available = set(known) | set(self.expressions)
        for target, expression in self.expressions.items():
            unknown = sorted(expression.references - available)
            if unknown:
                raise ExpressionError(f"virtual property {target!r}: unknown name(s) {', '.join(unknown)}")
        self.order = self._topological_order()
        self._readers: dict[str, list[str]] = {}
        for target in self.order:
            for reference in self.expressions[target].references:
                self._readers.setdefault(reference, []).append(target)

    def _topological_order(self) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(target: str, trail: list[str]) -> None:
            if state.get(target) == 2:
                return
            if state.get(target) == 1:
                cycle = [*trail[trail.index(target):], target]
                raise ExpressionError(f"virtual property {target!r}: cycle {' -> '.join(cycle)}")
            state[target] = 1
            for reference in sorted(self.expressions[target].references):
                if reference in self.expressions:
                    visit(reference, [*trail, target])
            state[target] = 2
            order.append(target)

        for target in sorted(self.expressions):
            visit(target, [])
        return order

    def affected(self, reference: str) -> list[str]:
        """Targets that read ``reference`` directly or through other targets, in evaluation order."""
        seen: set[str] = set()
        pending = [reference]
        while pending:
            for target in self._readers.get(pending.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    pending.append(target)
        return [target for target in self.order if target in seen]

    def evaluate(self, target: str, values: Inputs, qualities: Mapping[str, Quality]) -> VirtualValue:
        expression = self.expressions[target]
        quality = max((qualities.get(r, Quality.GOOD) for r in expression.references), key=_SEVERITY.__getitem__,
                      default=Quality.GOOD)
        try:
            value = expression.evaluate(values)
        except KeyError as error:
            raise ExpressionError(f"virtual property {target!r}: no value yet for {error.args[0]}") from None
        except (ZeroDivisionError, ValueError, OverflowError) as error:
            return VirtualValue(math.nan, Quality.BAD, f"{expression.text}: {error}")
        return VirtualValue(value, quality)
