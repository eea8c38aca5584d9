"""Permission policy as data: load registry_seed/policies.yaml, evaluate rules, match overrides.

Pure: no database. What a rule needs from the hub's state (a tenant's settings, whether a
payment was charged recently, a connection's history) comes in through PolicyContext.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.core import caches
from hub.core.errors import HubError
from hub.core.settings import repo_path
from hub.registry.yamlfile import load_yaml

LEVELS = ("unrestricted", "soft_limit", "requires_authorization")
RANK = {name: i for i, name in enumerate(LEVELS)}
# The raise a tool's own requires_authorization level counts as (overrides name it too).
TOOL_LEVEL = "tool_level"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmountThreshold(_Strict):
    """Raise when an amount field is over the tenant's threshold."""

    id: str
    kind: Literal["amount_threshold"]
    tools: list[str]
    field: str = "amount"
    default_max: int = Field(ge=0)
    tenant_setting: str | None = None
    reason: str


class MaxItems(_Strict):
    """Raise when one call touches more than max_items items (array lengths)."""

    id: str
    kind: Literal["max_items"]
    max_items: int = Field(ge=1)
    ignore_fields: list[str] = Field(default_factory=list)
    groups: dict[str, list[list[str]]] = Field(default_factory=dict)
    tools: list[str] | None = None
    reason: str


class SettledRefund(_Strict):
    """Raise for a refund of a payment the hub did not charge within the settle window."""

    id: str
    kind: Literal["settled_refund"]
    tools: list[str]
    payment_field: str = "payment_id"
    charge_tools: list[str]
    charge_result_field: str = "payment_id"
    settle_after_hours: float = Field(gt=0)
    tenant_setting: str | None = None
    reason: str


class HasHistory(_Strict):
    """Raise when the thing a call deletes has history (a connection used by agents)."""

    id: str
    kind: Literal["has_history"]
    tools: list[str]
    reason: str


Rule = Annotated[
    AmountThreshold | MaxItems | SettledRefund | HasHistory, Field(discriminator="kind")
]


class OverrideSpec(_Strict):
    """What an Allow Always for one tool remembers about the approved call."""

    money: bool = False
    at_most: list[str] = Field(default_factory=list)
    same: list[str] = Field(default_factory=list)


class Overrides(_Strict):
    """The overrides section."""

    lower_to: Literal["unrestricted", "soft_limit"] = "soft_limit"
    tools: dict[str, OverrideSpec] = Field(default_factory=dict)


class PolicyFile(_Strict):
    """The whole policies.yaml."""

    version: Literal[1]
    authorization_ttl_hours: float = Field(24, gt=0, le=24 * 30)
    rules: list[Rule] = Field(default_factory=list)
    overrides: Overrides = Field(default_factory=Overrides)


@dataclass(frozen=True)
class Raise:
    """One reason a call needs a human: the rule's id and its explanation."""

    rule: str
    reason: str


@dataclass
class PolicyContext:
    """What rules may ask of the hub's state, supplied by the caller (lazily)."""

    tenant_settings: dict[str, Any] | None = None
    # Reads the tenant's settings on first use (most calls never need them).
    settings_loader: Callable[[], dict[str, Any]] | None = None
    # (payment id, window) -> whether a charge tool of this tenant created it within window.
    charged_recently: Callable[[str, timedelta], bool] = lambda _pid, _w: False
    # (tool, args) -> (label, uses) of what the call would delete, or None without history.
    history: Callable[[str, dict[str, Any]], tuple[str, int] | None] = lambda _t, _a: None

    def tenant_policy(self, key: str | None) -> Any:
        """A knob under tenant.settings["policy"], or None."""
        if not key:
            return None
        if self.tenant_settings is None:
            self.tenant_settings = self.settings_loader() if self.settings_loader else {}
        return (self.tenant_settings.get("policy") or {}).get(key)


@dataclass(frozen=True)
class Evaluation:
    """A call's level: the tool's own, the raises, and the effective level before overrides."""

    base: str
    raises: tuple[Raise, ...]

    @property
    def level(self) -> str:
        """requires_authorization when anything raised it, else the tool's level."""
        return "requires_authorization" if self.raises else self.base

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The ids of the raises, in order."""
        return tuple(r.rule for r in self.raises)

    @property
    def reason(self) -> str:
        """Every raise's explanation, joined."""
        return " ".join(r.reason for r in self.raises)


class Policy:
    """A loaded policy file."""

    def __init__(self, spec: PolicyFile, source: str = "<memory>") -> None:
        self.spec = spec
        self.source = source

    @property
    def ttl(self) -> timedelta:
        """How long an authorization stays pending."""
        return timedelta(hours=self.spec.authorization_ttl_hours)

    # ------------------------------------------------------------ raising

    def evaluate(
        self, tool: str, base: str, args: dict[str, Any], ctx: PolicyContext
    ) -> Evaluation:
        """The tool's level and every rule that raises it for these arguments."""
        if base not in RANK:
            # An unknown level from a custom registry row: the safe answer is a human.
            base = "requires_authorization"
        raises: list[Raise] = []
        if base == "requires_authorization":
            raises.append(
                Raise(TOOL_LEVEL, f"{tool} always needs a human's approval (its declared level).")
            )
        for rule in self.spec.rules:
            hit = _apply(rule, tool, args, ctx)
            if hit is not None:
                raises.append(Raise(rule.id, hit))
        return Evaluation(base, tuple(raises))

    def item_count(self, tool: str, args: dict[str, Any]) -> int:
        """How many items a call touches under the bulk rule (0 without one)."""
        for rule in self.spec.rules:
            if isinstance(rule, MaxItems):
                return _count_items(rule, tool, args)[0]
        return 0

    # ------------------------------------------------------------ overrides

    def lowered(self, base: str) -> str:
        """The level a covering override leaves: the tool's own, or `lower_to` for tools
        that declare requires_authorization themselves."""
        return self.spec.overrides.lower_to if base == "requires_authorization" else base

    def override_terms(
        self, tool: str, provider: str | None, args: dict[str, Any], ev: Evaluation
    ) -> dict[str, Any]:
        """The narrow terms an Allow Always of this call records; refuses unbounded money."""
        spec = self.spec.overrides.tools.get(tool, OverrideSpec())
        at_most = {f: args.get(f) for f in spec.at_most if args.get(f) is not None}
        if spec.money and not at_most:
            raise HubError(
                "invalid_request",
                f"Allow Always on {tool} needs an amount to bound it, and this call has none "
                f"({', '.join(spec.at_most) or 'no amount field'}). Use Allow Once instead.",
            )
        return {
            "provider": provider,
            "rules": sorted(set(ev.rule_ids)),
            "same": {f: args.get(f) for f in spec.same},
            "at_most": at_most,
            "absent": sorted(f for f in spec.at_most if args.get(f) is None),
            "max_items": self.item_count(tool, args),
        }

    def covers(
        self,
        terms: dict[str, Any],
        tool: str,
        provider: str | None,
        args: dict[str, Any],
        ev: Evaluation,
    ) -> bool:
        """Whether an override's terms cover this call (every condition, no widening)."""
        if terms.get("provider") != provider:
            return False
        if not set(ev.rule_ids) <= set(terms.get("rules", [])):
            return False
        for f, v in (terms.get("same") or {}).items():
            if args.get(f) != v:
                return False
        for f, limit in (terms.get("at_most") or {}).items():
            value = args.get(f)
            if not _is_number(value) or not _is_number(limit) or value > limit:
                return False
        if any(args.get(f) is not None for f in terms.get("absent") or []):
            return False
        bulk = {r.id for r in self.spec.rules if isinstance(r, MaxItems)}
        if bulk & set(ev.rule_ids):
            # A bulk approval covers up to as many items as the approved call touched.
            return self.item_count(tool, args) <= int(terms.get("max_items") or 0)
        return True


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt(template: str, **values: Any) -> str:
    try:
        return " ".join(template.format(**values).split())
    except (KeyError, IndexError, ValueError):
        return " ".join(template.split())


def _count_items(rule: MaxItems, tool: str, args: dict[str, Any]) -> tuple[int, list[str]]:
    """The largest item count among the call's arrays (grouped fields summed), and its fields."""
    if rule.tools is not None and tool not in rule.tools:
        return 0, []
    groups = [list(g) for g in rule.groups.get(tool, [])]
    grouped = {f for g in groups for f in g}
    for name, value in args.items():
        if isinstance(value, list) and name not in grouped and name not in rule.ignore_fields:
            groups.append([name])
    best, fields = 0, []
    for g in groups:
        n = sum(len(args[f]) for f in g if isinstance(args.get(f), list))
        if n > best:
            best, fields = n, [f for f in g if isinstance(args.get(f), list)]
    return best, fields


def _apply(rule: Any, tool: str, args: dict[str, Any], ctx: PolicyContext) -> str | None:
    """The rule's explanation when it raises this call, else None."""
    if isinstance(rule, AmountThreshold):
        if tool not in rule.tools:
            return None
        amount = args.get(rule.field)
        configured = ctx.tenant_policy(rule.tenant_setting)
        limit: int | float = configured if _is_number(configured) else rule.default_max
        if isinstance(amount, int | float) and not isinstance(amount, bool) and amount > limit:
            return _fmt(rule.reason, amount=amount, currency=args.get("currency", ""), limit=limit)
        return None
    if isinstance(rule, MaxItems):
        count, fields = _count_items(rule, tool, args)
        if count > rule.max_items:
            return _fmt(rule.reason, count=count, fields=", ".join(fields), limit=rule.max_items)
        return None
    if isinstance(rule, SettledRefund):
        if tool not in rule.tools:
            return None
        payment = args.get(rule.payment_field)
        if not isinstance(payment, str):
            return None
        configured = ctx.tenant_policy(rule.tenant_setting)
        hours = configured if _is_number(configured) and configured > 0 else rule.settle_after_hours
        if ctx.charged_recently(payment, timedelta(hours=hours)):
            return None
        return _fmt(rule.reason, payment_id=payment, hours=_plain(hours))
    if isinstance(rule, HasHistory):
        if tool not in rule.tools:
            return None
        found = ctx.history(tool, args)
        if found is None:
            return None
        label, uses = found
        return _fmt(rule.reason, integration=label, uses=uses)
    return None  # pragma: no cover - the discriminated union has no other kinds


def _plain(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# ---------------------------------------------------------------- loading


def parse_policy(data: Any, source: str = "<memory>") -> Policy:
    """Validate a policy document; problems name the file and the field."""
    try:
        spec = PolicyFile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top)"
        raise HubError(
            "invalid_request",
            f"{source}: {where}: {first.get('msg', 'invalid')}"
            + (f" (and {e.error_count() - 1} more problem(s))" if e.error_count() > 1 else ""),
        ) from None
    ids = [r.id for r in spec.rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1} | ({TOOL_LEVEL} & set(ids)))
    if dupes:
        raise HubError("invalid_request", f"{source}: rule ids must be unique: {', '.join(dupes)}")
    return Policy(spec, source)


def load_policy(path: Path) -> Policy:
    """Read and validate a policies.yaml."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise HubError("invalid_request", f"Cannot read policy file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise HubError("invalid_request", f"{path}: YAML error: {e}") from None
    return parse_policy(data, str(path))


_lock = threading.Lock()
_cache: dict[str, tuple[float, Policy]] = {}
caches.register(_cache.clear)
_configured: Path | None = None


def configure(registry_dir: Path | None) -> None:
    """Use <registry_dir>/policies.yaml (None: the shipped registry_seed)."""
    global _configured
    _configured = (registry_dir / "policies.yaml") if registry_dir else None


def policy_path() -> Path:
    """The policy file in use."""
    if _configured is not None:
        return _configured
    return repo_path("registry_seed") / "policies.yaml"


def current_policy() -> Policy:
    """The policy in use, reloaded when its file changes (cheap stat per call)."""
    path = policy_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    key = str(path)
    cached = _cache.get(key)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    with _lock:
        policy = load_policy(path)
        _cache[key] = (mtime, policy)
        return policy
