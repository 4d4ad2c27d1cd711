"""What is wrong with a configuration: problems with a field path, and the error carrying them."""

from __future__ import annotations

from ..errors import ConfigError

__all__ = ["ConfigInvalid", "Problem"]


class Problem:
    """One thing wrong with a configuration: where (field path, line) and what."""

    __slots__ = ("path", "message", "line")

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.message = message
        self.line = line

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self.path!r}, {self.message!r}, line={self.line!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.path, self.message, self.line) == (
            other.path, other.message, other.line)

    def as_dict(self) -> dict[str, object]:
        """Return the problem as plain data (for logs and the admin status route)."""
        return {"path": self.path, "message": self.message, "line": self.line}


class ConfigInvalid(ConfigError):
    """A configuration was rejected as a whole; ``problems`` says why and where.

    ``str()`` gives the first problem (and how many more); every problem is
    in ``problems``, each with the exact field path (``$.routes[3].action``)
    and, when the source text is known, its line.
    """

    def __init__(self, problems: list[Problem], *, source: str | None = None) -> None:
        if not problems:
            raise ValueError("ConfigInvalid needs at least one problem")
        self.problems = problems
        self.source = source
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first.message + more, file=source, key=first.path, line=first.line)

    def __str__(self) -> str:
        first = self.problems[0]
        where = ":".join(str(p) for p in (self.source, first.line) if p is not None)
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{where + ': ' if where else ''}{first.path}: {first.message}{more}"

    def report(self) -> str:
        """Return every problem, one a line, prefixed with the source when known."""
        prefix = f"{self.source}:" if self.source else ""
        lines = []
        for problem in self.problems:
            where = f"{prefix}{problem.line}:" if problem.line is not None else prefix
            lines.append(f"{where} {problem.path}: {problem.message}".lstrip())
        return "\n".join(lines)
