"""``$regex`` patterns, compiled with RE2 so no pattern can run away.

Python's ``re`` backtracks: ``(a+)+$`` against thirty ``a`` and a ``b`` takes minutes, and a thread
stuck in ``re`` cannot be stopped. RE2 matches in time linear in the input and refuses what would
need backtracking (back-references, look-around); a pattern larger than ``MAX_PATTERN_MEMORY``
once compiled (``x{1000}{1000}``...) is refused too. A refused or malformed pattern is a
``QuerySyntaxError`` naming the position, as the issue's "bad input" asks.

XPath's ``fn:matches`` finds the pattern anywhere in the string (``search``), unless anchored.
"""

from __future__ import annotations

import functools

import re2

from twinbridge.query.syntax import QuerySyntaxError

MAX_PATTERN_LENGTH = 1_000
MAX_PATTERN_MEMORY = 1 << 20  # bytes of compiled program; RE2 refuses a pattern needing more

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_PATTERN_MEMORY
_OPTIONS.log_errors = False  # RE2 would print every refused pattern on stderr


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re2._Regexp | str:
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"the pattern is longer than {MAX_PATTERN_LENGTH} characters"
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        return f"the pattern {pattern!r} is refused: {reason} (patterns run on RE2: no back-references " \
               "or look-around, bounded size)"


def compile_pattern(pattern: str, position: str) -> re2._Regexp:
    compiled = _compile(pattern)
    if isinstance(compiled, str):
        raise QuerySyntaxError(position, compiled)
    return compiled


def matches(text: str, pattern: str) -> bool | None:
    """Whether ``pattern`` occurs in ``text``; None when the pattern (taken from a field) is refused."""
    compiled = _compile(pattern)
    if isinstance(compiled, str):
        return None
    return compiled.search(text) is not None
