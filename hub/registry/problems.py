"""Lint problems, the error that carries them, and the parsed-file record they point into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.registry.yamlfile import line_for


@dataclass(frozen=True, order=True)
class LintProblem:
    """One thing wrong in the catalog: which file, where in it (JSON pointer), and why."""

    file: str
    path: str
    reason: str
    line: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.path}" if self.path else self.file
        suffix = f" (line {self.line})" if self.line else ""
        return f"{where}: {self.reason}{suffix}"


class CatalogError(Exception):
    """The catalog folder has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[LintProblem]) -> None:
        self.problems = problems
        head = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"{len(problems)} catalog problem(s): {head}{more}")


@dataclass
class Doc:
    """One parsed catalog file."""

    file: str  # path relative to the catalog folder, e.g. "integrations/payments.yaml"
    stem: str  # file name without extension, e.g. "payments"
    data: Any
    lines: dict[str, int]

    def problem(self, path: str, reason: str) -> LintProblem:
        """A problem in this file, with the line number when it can be found."""
        return LintProblem(self.file, path, reason, line_for(self.lines, path))

    def entries(self, key: str) -> list[tuple[int, dict[str, Any]]]:
        """(index, entry) for every mapping in the file's top-level list `key`."""
        items = self.data.get(key) if isinstance(self.data, dict) else None
        if not isinstance(items, list):
            return []
        return [(i, e) for i, e in enumerate(items) if isinstance(e, dict)]
