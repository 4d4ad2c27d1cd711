"""Errors of the filtering layer: a rule, regex, list or option that cannot be used.

::

    ConfigError (edgeline.errors)
    └── FilterConfigError        a ruleset, list or option was rejected at load
        └── RuleError            an expression: message, line, column and a caret
"""

from __future__ import annotations

from ..errors import ConfigError

__all__ = ["FilterConfigError", "RuleError", "line_col"]


class FilterConfigError(ConfigError):
    """A filtering configuration (ruleset, list, limiter, authenticator) was rejected."""


def line_col(source: str, pos: int) -> tuple[int, int]:
    """Return the 1-based line and column of offset ``pos`` in ``source``."""
    pos = max(0, min(pos, len(source)))
    line = source.count("\n", 0, pos) + 1
    start = source.rfind("\n", 0, pos) + 1
    return line, pos - start + 1


class RuleError(FilterConfigError):
    """An expression (or its regex, list or set item) is invalid at ``line``/``column``.

    ``str()`` names the rule, the position and the reason, then shows the
    offending line with a caret under the column::

        rule 'admin': line 1, column 13: expected a value after '=='
          http.path ==
                      ^
    """

    def __init__(self, message: str, source: str, pos: int, *, rule: str | None = None) -> None:
        self.source = source
        self.pos = pos
        self.rule = rule
        self.message = message
        self.line, self.column = line_col(source, pos)
        super().__init__(message, key=rule, line=self.line)

    def with_rule(self, rule: str) -> RuleError:
        """Return the same error naming ``rule``."""
        return RuleError(self.message, self.source, self.pos, rule=rule)

    def __str__(self) -> str:
        lines = self.source.split("\n")
        line = self.line or 1
        text = lines[line - 1] if line - 1 < len(lines) else ""
        where = f"rule {self.rule!r}: " if self.rule else ""
        caret = " " * (self.column - 1) + "^"
        return (f"{where}line {line}, column {self.column}: {self.message}\n"
                f"  {text}\n  {caret}")
