"""Reading catalog YAML: strict loading plus a JSON-pointer -> line number index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


def pointer_escape(part: object) -> str:
    """Escape one JSON-pointer segment (RFC 6901)."""
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(parts: Iterable[object]) -> str:
    """A JSON pointer from path segments: ['tools', 0, 'name'] -> '/tools/0/name'."""
    return "".join(f"/{pointer_escape(p)}" for p in parts)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and keeps dates as strings."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# JSON Schema wants strings: an unquoted 2025-01-15 must not become a datetime.date.
_StrictLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    """Parse one YAML document strictly (raises yaml.YAMLError with a position)."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def line_index(text: str) -> dict[str, int]:
    """Map each JSON pointer in the document to its 1-based line (best effort)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[str, int] = {}

    def walk(node: yaml.Node, ptr: str) -> None:
        out.setdefault(ptr, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                child = f"{ptr}/{pointer_escape(k.value)}"
                out.setdefault(child, k.start_mark.line + 1)
                walk(v, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{ptr}/{i}")

    if root is not None:
        walk(root, "")
    return out


def line_for(lines: dict[str, int], ptr: str) -> int | None:
    """The line of `ptr`, or of its nearest existing ancestor (for missing fields)."""
    while True:
        if ptr in lines:
            return lines[ptr]
        if not ptr:
            return None
        ptr = ptr.rsplit("/", 1)[0]
