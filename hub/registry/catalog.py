"""Load and validate the catalog folder (`registry_seed/`) into pydantic models.

Layout: `schema/{integration,tool}.schema.json`, `integrations/<category>.yaml` (key
`integrations`), `tools/<domain>.yaml` (keys `domain`, `description`, `tools`). Every problem
is collected (not just the first) so `hub registry lint` can list them all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from hub.core.settings import get_settings, repo_path
from hub.registry import checks
from hub.registry.problems import CatalogError, Doc, LintProblem
from hub.registry.spec import (
    Catalog,
    DomainSpec,
    IntegrationSpec,
    ToolSpec,
)
from hub.registry.yamlfile import line_index, load_yaml, pointer

__all__ = [
    "Catalog",
    "CatalogError",
    "LintProblem",
    "collect",
    "default_folder",
    "load_catalog",
]

_M = TypeVar("_M", IntegrationSpec, ToolSpec)

_SCHEMAS = {"integrations": "integration.schema.json", "tools": "tool.schema.json"}


def default_folder() -> Path:
    """The catalog folder: HUB_REGISTRY_DIR, else the shipped `registry_seed/`."""
    return get_settings().registry_dir or repo_path("registry_seed")


def load_catalog(folder: Path | None = None) -> Catalog:
    """Load and validate the catalog; raise CatalogError listing every problem."""
    catalog, problems = collect(folder or default_folder())
    if problems or catalog is None:
        raise CatalogError(problems)
    return catalog


def collect(folder: Path) -> tuple[Catalog | None, list[LintProblem]]:
    """Parse and check the folder: (catalog or None, sorted problems)."""
    problems: list[LintProblem] = []
    validators = {kind: _validator(folder, name, problems) for kind, name in _SCHEMAS.items()}
    int_docs = _read_docs(folder, "integrations", problems)
    tool_docs = _read_docs(folder, "tools", problems)
    # A file that did not parse would make every reference into it look unknown: skip
    # the cross-file checks until parsing succeeds, rather than bury the real error.
    unparsed = any(p.reason.startswith("YAML error") for p in problems)
    for kind, docs in (("integrations", int_docs), ("tools", tool_docs)):
        validator = validators[kind]
        if validator is not None:
            for doc in docs:
                problems += checks.schema_problems(doc, validator)
    for doc in int_docs:
        problems += checks.integration_problems(doc)
    for doc in tool_docs:
        problems += checks.tool_problems(doc)
    if not unparsed:
        problems += checks.cross_problems(int_docs, tool_docs)
    problems = sorted(dict.fromkeys(problems))  # dedupe, stable order by file then path
    if problems:
        return None, problems
    return _build(int_docs, tool_docs)


def _validator(folder: Path, name: str, problems: list[LintProblem]) -> Draft202012Validator | None:
    rel = f"schema/{name}"
    path = folder / rel
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
    except FileNotFoundError:
        problems.append(LintProblem(rel, "", "schema file is missing"))
        return None
    except json.JSONDecodeError as e:
        problems.append(LintProblem(rel, "", f"not valid JSON: {e.msg}", e.lineno))
        return None
    except SchemaError as e:
        problems.append(
            LintProblem(rel, pointer(e.absolute_path), f"not a valid JSON Schema: {e.message}")
        )
        return None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _read_docs(folder: Path, sub: str, problems: list[LintProblem]) -> list[Doc]:
    files = (
        sorted(p for p in (folder / sub).glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
        if (folder / sub).is_dir()
        else []
    )
    if not files:
        problems.append(LintProblem(sub, "", f"no YAML files in {folder / sub}"))
    docs: list[Doc] = []
    for path in files:
        rel = path.relative_to(folder).as_posix()
        text = path.read_text(encoding="utf-8")
        try:
            data = load_yaml(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problems.append(LintProblem(rel, "", f"YAML error: {_yaml_reason(e)}", line))
            continue
        docs.append(Doc(rel, path.stem, data, line_index(text)))
    return docs


def _yaml_reason(e: yaml.YAMLError) -> str:
    problem = getattr(e, "problem", None)
    return str(problem) if problem else str(e).splitlines()[0]


def _build(int_docs: list[Doc], tool_docs: list[Doc]) -> tuple[Catalog | None, list[LintProblem]]:
    """Turn schema-valid files into models (pydantic errors, if any, become problems too)."""
    problems: list[LintProblem] = []
    integrations: list[IntegrationSpec] = []
    tools: list[ToolSpec] = []
    domains: list[DomainSpec] = []
    for doc in int_docs:
        for i, entry in doc.entries("integrations"):
            spec = _model(IntegrationSpec, entry, doc, f"/integrations/{i}", problems)
            if spec is not None:
                integrations.append(spec)
    for doc in tool_docs:
        data: dict[str, Any] = doc.data
        domains.append(DomainSpec(name=data["domain"], description=data["description"].strip()))
        for i, entry in doc.entries("tools"):
            tool = _model(ToolSpec, entry, doc, f"/tools/{i}", problems)
            if tool is not None:
                tools.append(tool)
    if problems:
        return None, sorted(problems)
    return Catalog(integrations=integrations, tools=tools, domains=domains), []


def _model(
    cls: type[_M], entry: dict[str, Any], doc: Doc, base: str, problems: list[LintProblem]
) -> _M | None:
    try:
        return cls.model_validate(entry)
    except ValidationError as e:
        for err in e.errors():
            problems.append(doc.problem(base + pointer(err["loc"]), err["msg"]))
        return None
