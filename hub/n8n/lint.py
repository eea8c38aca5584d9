"""``hub workflows lint``: refuse a workflow file that breaks the hub <-> n8n contract.

Each problem names the file, a JSON pointer into it (``/nodes/2/parameters/url``) and the
reason in words an operator can act on. Errors block deploy; warnings (a Code node) do not.
This module holds one idea, the contract check, and is long because the contract is: the
rules below share one walk over the nodes and connections.

Rules (DESIGN.md section 4 and the workflow contract):

* the file is a JSON object with ``nodes`` and ``connections``, named
  ``<integration>/<tool>.v<N>.json``;
* exactly one trigger, a Webhook node (typeVersion 2.1): POST, path
  ``hub/<integration>/<tool>/v<N>`` matching the file's location, response from a Respond to
  Webhook node, header auth with the ``hub webhook auth`` credential;
* every node is reachable from the Webhook; every branch ends in a Respond to Webhook node;
  every output of an IF node is connected; every HTTP Request node has
  ``onError: continueErrorOutput`` with its error output connected (otherwise n8n answers
  500 "Error in workflow" when the call fails);
* one HTTP Request node redeems the grant at ``{{ $json.body.edge_url }}`` naming this
  integration; vendor URLs are built from the connection's ``base_url``; a URL taken from the
  call's arguments (a document DocuSign takes as bytes) is fetched with a plain GET that
  sends nothing of the credentials; a multi-step workflow's step recorders POST to the
  webhook body's ``steps_url`` with its ``step_grant`` (hub.runs.steps);
* no literal secret anywhere in a node (vendor key formats, private keys, ``Bearer`` /
  ``Basic`` followed by a literal, long random-looking header values);
* no stored n8n credential but the hub's webhook auth (vendor credentials come from the
  grant at run time), no pinned data;
* a Respond to Webhook node must not echo whole items (they carry the webhook's headers,
  including the hub's token, and the resolved credentials);
* the settings the hub enforces are present with their values, plus an execution timeout.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.n8n.workflows import (
    ENFORCED_SETTINGS,
    HTTP_NODE_TYPE,
    MAX_EXECUTION_TIMEOUT_S,
    RESPOND_NODE_TYPE,
    STICKY_NOTE_TYPE,
    WEBHOOK_CREDENTIAL_NAME,
    WEBHOOK_CREDENTIAL_TYPE,
    WEBHOOK_NODE_TYPE,
    WEBHOOK_TYPE_VERSION,
    WorkflowRef,
    candidate_files,
    default_folder,
    parse_path,
)

#: The tool name of an inbound-event handler (`<integration>/on_event.v<N>.json`): it gets
#: `{event_id, tenant_id, provider, type, received_at, attempt, payload}` from the hub's
#: delivery worker (hub.webhooks) and answers `{ok: true, data}` or `{ok: false, error}`.
#: It redeems no grant unless it calls the vendor; every other rule applies unchanged.
HANDLER_TOOL = "on_event"

ERROR = "error"
WARNING = "warning"

CODE_NODE_TYPES = {
    "n8n-nodes-base.code",
    "n8n-nodes-base.function",
    "n8n-nodes-base.functionItem",
}
IF_NODE_TYPE = "n8n-nodes-base.if"

#: Literal secrets by vendor format.
SECRET_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("a Stripe secret or restricted key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{8,}")),
    ("a SendGrid API key", re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{30,}")),
    ("a Square access token", re.compile(r"\bEAAA[A-Za-z0-9_-]{20,}")),
    ("a Mailgun API key", re.compile(r"\bkey-[0-9a-f]{32}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("a Twilio API key", re.compile(r"\bSK[0-9a-f]{32}\b")),
    ("an AWS access key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
    ("an OpenAI key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}")),
]
AUTH_LITERAL = re.compile(r"\b(Bearer|Basic)\s+([A-Za-z0-9._~+/=:-]{6,})", re.IGNORECASE)
TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.:]{20,}")
EXPRESSION_BLOCK = re.compile(r"\{\{.*?\}\}", re.DOTALL)
JS_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|`((?:[^`\\]|\\.)*)`")

TRIGGER_HINTS = ("trigger", "webhook", "cron", "interval", "formtrigger")


@dataclass(frozen=True)
class LintProblem:
    """One contract violation: ``file``, JSON pointer ``path``, ``reason``, ``severity``."""

    file: str
    path: str
    reason: str
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        """Whether this problem blocks deploy."""
        return self.severity == ERROR

    def __str__(self) -> str:
        where = self.path or "/"
        return f"{self.file}:{where}: {self.severity}: {self.reason}"


def errors(problems: list[LintProblem]) -> list[LintProblem]:
    """Only the problems that block deploy."""
    return [p for p in problems if p.is_error]


def pointer(*parts: Any) -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# --------------------------------------------------------------------------- helpers


def _walk_strings(value: Any, parts: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield parts, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(v, (*parts, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_strings(v, (*parts, i))


def _entropy(s: str) -> float:
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def looks_random(token: str) -> bool:
    """A long token mixing letters and digits with high entropy (a key, not a word)."""
    return (
        len(token) >= 20
        and any(c.isdigit() for c in token)
        and any(c.isalpha() for c in token)
        and _entropy(token) >= 3.5
    )


def literal_parts(value: str) -> list[str]:
    """The literal text of a parameter: the whole string, or for an n8n expression
    (``=...``) the text outside ``{{ }}`` plus the string literals inside them."""
    if not value.startswith("="):
        return [value]
    body = value[1:]
    out = [EXPRESSION_BLOCK.sub(" ", body)]
    for block in EXPRESSION_BLOCK.findall(body):
        for m in JS_STRING.finditer(block):
            out.append(next(g for g in m.groups() if g is not None))
    return out


def secret_reason(value: str, *, header_value: bool = False) -> str | None:
    """Why this parameter value holds a literal secret, or None."""
    for text in literal_parts(value):
        for label, pattern in SECRET_PATTERNS:
            if pattern.search(text):
                return f"holds what looks like {label} as a literal"
        m = AUTH_LITERAL.search(text)
        if m:
            return (
                f"'{m.group(1)} <literal>': build the value from the grant's credentials "
                "in an expression instead"
            )
        if header_value:
            for tok in TOKEN.findall(text):
                if looks_random(tok):
                    return "a header value holds a long random-looking literal (a secret?)"
    return None


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (files may hold anything)."""
    return value if isinstance(value, dict) else {}


def _is_trigger(node: dict[str, Any]) -> bool:
    t = str(node.get("type", "")).lower()
    return t.endswith("trigger") or t == WEBHOOK_NODE_TYPE.lower() or "cron" in t


# --------------------------------------------------------------------------- the linter


class _Linter:
    def __init__(self, file: str, wf: dict[str, Any], ref: WorkflowRef | None):
        self.file = file
        self.wf = wf
        self.ref = ref
        self.problems: list[LintProblem] = []

    def add(self, path: str, reason: str, severity: str = ERROR) -> None:
        """Record one problem at JSON pointer ``path``."""
        self.problems.append(LintProblem(self.file, path, reason, severity))

    def run(self) -> list[LintProblem]:
        """Every problem of the workflow (only the first when it is no workflow at all)."""
        wf = self.wf
        nodes = wf.get("nodes")
        conns = wf.get("connections")
        if not isinstance(nodes, list):
            self.add("/nodes", "missing or not a list: this is not an n8n workflow export")
            return self.problems
        if not isinstance(conns, dict):
            self.add("/connections", "missing or not an object: this is not an n8n workflow")
            return self.problems
        self.nodes = nodes
        self.by_name: dict[str, int] = {}
        for i, n in enumerate(nodes):
            if not isinstance(n, dict):
                self.add(pointer("nodes", i), "not a node object")
                continue
            name = n.get("name")
            if not isinstance(name, str) or not name:
                self.add(pointer("nodes", i, "name"), "every node needs a name")
            elif name in self.by_name:
                self.add(pointer("nodes", i, "name"), f"two nodes are named {name!r}")
            else:
                self.by_name[name] = i
        self.check_connections(conns)
        webhook = self.check_trigger()
        if webhook is not None:
            self.check_graph(webhook, conns)
        for i, n in enumerate(nodes):
            if isinstance(n, dict):
                self.check_node(i, n, conns)
        if self.ref is None or self.ref.tool != HANDLER_TOOL:
            self.check_edge_and_vendor()
        elif any(isinstance(n, dict) and n.get("type") == HTTP_NODE_TYPE for n in self.nodes):
            # A handler that calls its vendor (to re-read an object) gets credentials as tools do.
            self.check_edge_and_vendor()
        self.check_settings(wf.get("settings"))
        pin = wf.get("pinData")
        if pin not in (None, {}):
            self.add(
                "/pinData",
                "pinned data must be empty: it is stored in n8n and in git, and may hold "
                "vendor answers or secrets",
            )
        return self.problems

    # ------------------------------------------------------------------ structure
    def outputs(self, conns: dict[str, Any], name: str) -> list[list[str]]:
        """The node names on each main output of ``name``, output by output."""
        main = (conns.get(name) or {}).get("main") if isinstance(conns.get(name), dict) else None
        if not isinstance(main, list):
            return []
        return [
            [t["node"] for t in (o or []) if isinstance(t, dict) and t.get("node")] for o in main
        ]

    def targets(self, conns: dict[str, Any], name: str) -> list[str]:
        """Every node ``name`` connects to, over all connection kinds."""
        by_type = conns.get(name)
        out: list[str] = []
        if isinstance(by_type, dict):
            for outputs in by_type.values():
                for o in outputs if isinstance(outputs, list) else []:
                    for t in o or []:
                        if isinstance(t, dict) and t.get("node"):
                            out.append(t["node"])
        return out

    def check_connections(self, conns: dict[str, Any]) -> None:
        """Connections from or to nodes that do not exist."""
        for source, by_type in conns.items():
            if source not in self.by_name:
                self.add(pointer("connections", source), f"connects from unknown node {source!r}")
                continue
            if not isinstance(by_type, dict):
                continue
            for kind, outputs in by_type.items():
                for oi, o in enumerate(outputs if isinstance(outputs, list) else []):
                    for ti, t in enumerate(o or []):
                        target = t.get("node") if isinstance(t, dict) else None
                        if target not in self.by_name:
                            self.add(
                                pointer("connections", source, kind, oi, ti, "node"),
                                f"connects to unknown node {target!r}",
                            )

    def check_trigger(self) -> tuple[int, dict[str, Any]] | None:
        """Exactly one trigger, the hub's Webhook, set up as the contract says."""
        hooks = [(i, n) for i, n in enumerate(self.nodes) if isinstance(n, dict) and _is_trigger(n)]
        webhooks = [(i, n) for i, n in hooks if n.get("type") == WEBHOOK_NODE_TYPE]
        for i, n in hooks:
            if n.get("type") != WEBHOOK_NODE_TYPE:
                self.add(
                    pointer("nodes", i, "type"),
                    f"trigger {n.get('type')!r}: the only trigger allowed is the hub's Webhook",
                )
        if not webhooks:
            self.add("/nodes", "no Webhook trigger: the hub calls workflows through one")
            return None
        if len(webhooks) > 1:
            for i, _ in webhooks[1:]:
                self.add(pointer("nodes", i), "a second Webhook trigger: exactly one is allowed")
        i, n = webhooks[0]
        p = _obj(n.get("parameters"))
        if n.get("typeVersion") != WEBHOOK_TYPE_VERSION:
            self.add(
                pointer("nodes", i, "typeVersion"),
                f"Webhook typeVersion must be {WEBHOOK_TYPE_VERSION} (the contract's version), "
                f"not {n.get('typeVersion')!r}",
            )
        if p.get("httpMethod") != "POST":
            self.add(
                pointer("nodes", i, "parameters", "httpMethod"),
                f"must be POST (is {p.get('httpMethod', 'GET (the default)')})",
            )
        if self.ref is not None and p.get("path") != self.ref.webhook_path:
            self.add(
                pointer("nodes", i, "parameters", "path"),
                f"must be {self.ref.webhook_path!r} to match the file's location "
                f"{self.ref.relative_path} (is {p.get('path')!r})",
            )
        if p.get("responseMode") != "responseNode":
            self.add(
                pointer("nodes", i, "parameters", "responseMode"),
                "must be 'responseNode': the answer comes from a Respond to Webhook node "
                f"(is {p.get('responseMode')!r})",
            )
        if p.get("authentication") != "headerAuth":
            self.add(
                pointer("nodes", i, "parameters", "authentication"),
                "must be 'headerAuth' (the hub's X-Hub-Webhook-Token): otherwise anyone who "
                "can reach n8n can run the workflow",
            )
        creds = _obj(n.get("credentials"))
        hc = creds.get(WEBHOOK_CREDENTIAL_TYPE)
        if not isinstance(hc, dict) or hc.get("name") != WEBHOOK_CREDENTIAL_NAME:
            self.add(
                pointer("nodes", i, "credentials", WEBHOOK_CREDENTIAL_TYPE),
                f"the Webhook's header auth must use the credential named "
                f"{WEBHOOK_CREDENTIAL_NAME!r} (deploy fills in its id)",
            )
        return i, n

    def check_graph(self, webhook: tuple[int, dict[str, Any]], conns: dict[str, Any]) -> None:
        """Every node reachable and enabled; every branch ends at a Respond node."""
        start = webhook[1].get("name")  # node names come from the file: anything JSON
        seen: set[Any] = {start}
        queue: list[Any] = [start]
        while queue:
            for t in self.targets(conns, queue.pop()):
                if t not in seen and t in self.by_name:
                    seen.add(t)
                    queue.append(t)
        for name, i in self.by_name.items():
            n = self.nodes[i]
            if n.get("type") == STICKY_NOTE_TYPE:
                continue
            if name not in seen:
                self.add(
                    pointer("nodes", i),
                    f"node {name!r} is not reachable from the Webhook: it never runs "
                    "(remove it or connect it)",
                )
                continue
            if n.get("disabled"):
                self.add(
                    pointer("nodes", i, "disabled"),
                    f"node {name!r} is disabled: a branch through it would pass items on "
                    "unchanged; remove it instead",
                )
            if not self.targets(conns, name) and n.get("type") != RESPOND_NODE_TYPE:
                self.add(
                    pointer("nodes", i),
                    f"the branch ends at {name!r}, not at a Respond to Webhook node: "
                    "n8n would answer 500 'Error in workflow' instead of the hub's shape",
                )

    # ------------------------------------------------------------------ nodes
    def check_node(self, i: int, n: dict[str, Any], conns: dict[str, Any]) -> None:
        """One node: error outputs, IF branches, Code, credentials, literal secrets."""
        name = n.get("name", "")
        ntype = n.get("type")
        params = _obj(n.get("parameters"))
        outs = self.outputs(conns, name)

        if ntype == HTTP_NODE_TYPE:
            if n.get("onError") != "continueErrorOutput":
                self.add(
                    pointer("nodes", i, "onError"),
                    f"HTTP Request {name!r} needs onError 'continueErrorOutput' with the "
                    "error output wired to a Respond node: a failed call (vendor unreachable, "
                    "timeout) otherwise ends in n8n's 500",
                )
            elif len(outs) < 2 or not outs[1]:
                self.add(
                    pointer("connections", name, "main", 1),
                    f"the error output of HTTP Request {name!r} is not connected: a failed "
                    "call would end without an answer in the hub's shape",
                )
            auth = params.get("authentication")
            if auth not in (None, "none"):
                self.add(
                    pointer("nodes", i, "parameters", "authentication"),
                    f"HTTP Request {name!r} uses n8n-stored authentication ({auth!r}): "
                    "credentials must come from the hub's grant at run time",
                )
        elif n.get("onError") == "continueErrorOutput" and (not outs or not outs[-1]):
            self.add(
                pointer("connections", name, "main", max(len(outs) - 1, 0)),
                f"the error output of {name!r} is not connected",
            )
        if ntype == IF_NODE_TYPE:
            for oi, label in ((0, "true"), (1, "false")):
                if len(outs) <= oi or not outs[oi]:
                    self.add(
                        pointer("connections", name, "main", oi),
                        f"the {label} branch of IF {name!r} is not connected: it would end "
                        "without an answer",
                    )
        if ntype in CODE_NODE_TYPES:
            self.add(
                pointer("nodes", i),
                f"Code node {name!r}: it costs about as much as a whole extra node per call "
                "(n8n's expression engine is the main cost), is opaque to this lint's secret "
                "and branch checks, and can throw without an error branch; prefer "
                "expressions in the HTTP Request and Respond nodes",
                WARNING,
            )
        if ntype == RESPOND_NODE_TYPE:
            self.check_respond(i, n, params)

        creds = n.get("credentials")
        if isinstance(creds, dict):
            for ctype, cval in creds.items():
                cname = cval.get("name") if isinstance(cval, dict) else cval
                allowed = (
                    ntype == WEBHOOK_NODE_TYPE
                    and ctype == WEBHOOK_CREDENTIAL_TYPE
                    and cname == WEBHOOK_CREDENTIAL_NAME
                )
                if not allowed:
                    self.add(
                        pointer("nodes", i, "credentials", ctype),
                        f"stored n8n credential {cname!r} ({ctype}) on {name!r}: vendor "
                        "credentials must come from the hub's grant at run time, never be "
                        "kept in n8n",
                    )

        header_params = (
            (params.get("headerParameters") or {}).get("parameters")
            if isinstance(params.get("headerParameters"), dict)
            else None
        )
        header_value_paths = set()
        if isinstance(header_params, list):
            for hi, _ in enumerate(header_params):
                header_value_paths.add(
                    ("parameters", "headerParameters", "parameters", hi, "value")
                )
        for parts, value in _walk_strings({k: n[k] for k in ("parameters", "notes") if k in n}, ()):
            if ntype == STICKY_NOTE_TYPE and parts[:2] == ("parameters", "content"):
                header = False
            else:
                header = parts in header_value_paths or (
                    len(parts) >= 2 and parts[-2:] == ("jsonHeaders",)
                )
            reason = secret_reason(value, header_value=header)
            if reason:
                self.add(pointer("nodes", i, *parts), f"literal secret: {reason}")

    def check_respond(self, i: int, n: dict[str, Any], params: dict[str, Any]) -> None:
        """A Respond node answers with an explicit body, never items or headers."""
        mode = params.get("respondWith", "firstIncomingItem")
        if mode in ("allIncomingItems", "firstIncomingItem"):
            self.add(
                pointer("nodes", i, "parameters", "respondWith"),
                f"Respond {n.get('name')!r} echoes whole items: they carry the webhook's "
                "headers (the hub's token) and resolved credentials; respond with an "
                "explicit JSON body {ok, data} / {ok: false, error}",
            )
            return
        body = params.get("responseBody")
        if isinstance(body, str):
            compact = re.sub(r"\s+", "", body)
            if compact in ("={{$json}}", "={{JSON.stringify($json)}}") or re.search(
                r"\$json\.(credentials|headers)\b|\.json\.headers\b", body
            ):
                self.add(
                    pointer("nodes", i, "parameters", "responseBody"),
                    "the response would carry request headers or credentials; return only "
                    "the fields the caller needs",
                )

    def check_edge_and_vendor(self) -> None:
        """One HTTP node redeems the grant for this integration; others use base_url."""
        edge_nodes = []
        for i, n in enumerate(self.nodes):
            if not isinstance(n, dict) or n.get("type") != HTTP_NODE_TYPE:
                continue
            params = _obj(n.get("parameters"))
            url = params.get("url")
            url_s = url if isinstance(url, str) else ""
            if "edge_url" in url_s:
                edge_nodes.append((i, n, params))
                continue
            if "steps_url" in url_s:
                self.check_step_recorder(i, n, params)
                continue
            if url_s.startswith("=") and ".args." in url_s and "base_url" not in url_s:
                self.check_argument_fetch(i, n, params)
                continue
            if not url_s.startswith("=") or "base_url" not in url_s:
                self.add(
                    pointer("nodes", i, "parameters", "url"),
                    f"the vendor URL of {n.get('name')!r} must be built from the "
                    "connection's base_url (={{ $json.connection.base_url + '/...' }}), so "
                    "the same workflow reaches the real vendor or a sandbox",
                )
        if not edge_nodes:
            self.add(
                "/nodes",
                "no HTTP Request node redeems the grant at the hub's edge "
                "(POST {{ $json.body.edge_url }} with {grant, run_id, integration})",
            )
            return
        if self.ref is None:
            return
        slug = self.ref.integration
        for i, _n, params in edge_nodes:
            body = json.dumps(params.get("jsonBody", "")) + json.dumps(
                params.get("bodyParameters", "")
            )
            if not re.search(rf"integration\W+['\"]?{re.escape(slug)}['\"\\]", body):
                self.add(
                    pointer("nodes", i, "parameters", "jsonBody"),
                    f"the credential request must name this workflow's integration "
                    f"(integration: '{slug}'), so the hub refuses a grant for another one",
                )

    def check_step_recorder(self, i: int, n: dict[str, Any], params: dict[str, Any]) -> None:
        """A step recorder POSTs to the hub's steps_url with the run's step grant."""
        if str(params.get("method", "GET")).upper() != "POST":
            self.add(
                pointer("nodes", i, "parameters", "method"),
                f"step recorder {n.get('name')!r} must POST to steps_url",
            )
        body = json.dumps(params.get("jsonBody", ""))
        if "step_grant" not in body or "$json.body.grant" in body:
            self.add(
                pointer("nodes", i, "parameters", "jsonBody"),
                f"step recorder {n.get('name')!r} must send the webhook body's step_grant "
                "(never the credential grant): {grant: <body>.step_grant, run_id, step, result}",
            )

    def check_argument_fetch(self, i: int, n: dict[str, Any], params: dict[str, Any]) -> None:
        """A URL from the call's arguments (a document the vendor takes as bytes) is fetched
        with a plain GET carrying nothing of the grant: the caller chose that host."""
        sends = [k for k in ("sendHeaders", "sendQuery", "sendBody") if params.get(k)]
        method = str(params.get("method", "GET")).upper()
        if (
            method != "GET"
            or sends
            or re.search(r"credentials|access_token|grant", json.dumps(params))
        ):
            self.add(
                pointer("nodes", i, "parameters"),
                f"{n.get('name')!r} fetches a URL from the call's arguments: it must be a plain "
                "GET that sends no headers, query or body and nothing from the credentials "
                "(the caller chose that host; a vendor URL is built from base_url instead)",
            )

    def check_settings(self, settings: Any) -> None:
        """The enforced execution settings, plus a timeout in range."""
        if not isinstance(settings, dict):
            self.add("/settings", "missing: the hub requires its execution settings")
            settings = {}
        for key, want in ENFORCED_SETTINGS.items():
            if settings.get(key) != want:
                self.add(
                    pointer("settings", key),
                    f"must be {json.dumps(want)} (is {json.dumps(settings.get(key))})"
                    + (
                        ": n8n must not keep execution data (it holds per-call data)"
                        if key.startswith("save")
                        else ""
                    ),
                )
        timeout = settings.get("executionTimeout")
        if not (
            isinstance(timeout, int)
            and not isinstance(timeout, bool)
            and 0 < timeout <= MAX_EXECUTION_TIMEOUT_S
        ):
            self.add(
                "/settings/executionTimeout",
                f"needs an execution timeout in seconds (1-{MAX_EXECUTION_TIMEOUT_S}), "
                f"is {json.dumps(timeout)}",
            )


def lint_workflow(wf: Any, ref: WorkflowRef | None, file: str) -> list[LintProblem]:
    """Problems of one parsed workflow (``ref`` from its location, None if unknown)."""
    if not isinstance(wf, dict):
        return [LintProblem(file, "", "not a JSON object: this is not an n8n workflow export")]
    return _Linter(file, wf, ref).run()


def lint_file(path: Path | str, *, root: Path | None = None) -> list[LintProblem]:
    """Problems of one workflow file (``file`` is shown relative to ``root`` when given)."""
    p = Path(path)
    try:
        shown = str(p.resolve().relative_to(root.resolve())) if root else str(p)
    except ValueError:
        shown = str(p)
    ref = parse_path(p)
    problems: list[LintProblem] = []
    if ref is None:
        problems.append(
            LintProblem(
                shown,
                "",
                "the file must be named <integration>/<tool>.v<N>.json (lower-case slugs, "
                "N >= 1) so the hub knows which tool and version it serves",
            )
        )
    try:
        wf = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return [*problems, LintProblem(shown, "", f"cannot read the file: {exc}")]
    except ValueError as exc:
        return [*problems, LintProblem(shown, "", f"not valid JSON: {exc}")]
    return problems + lint_workflow(wf, ref, shown)


def lint_folder(folder: Path | str | None = None) -> list[LintProblem]:
    """Problems of every ``*.json`` under ``folder`` (default: the configured workflows
    folder), plus webhook paths claimed twice."""
    root = Path(folder) if folder else default_folder()
    problems: list[LintProblem] = []
    if not root.is_dir():
        return [LintProblem(str(root), "", "no such folder")]
    stray = sorted(p for p in root.rglob("*.json") if p.is_file())
    nested = [p for p in stray if p.parent.parent.resolve() != root.resolve()]
    for p in nested:
        problems.append(
            LintProblem(
                str(p.relative_to(root)),
                "",
                "workflow files live one level down: <integration>/<tool>.v<N>.json",
            )
        )
    paths: dict[str, str] = {}
    for p in candidate_files(root):
        shown = str(p.relative_to(root))
        problems.extend(lint_file(p, root=root))
        try:
            wf = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for i, n in enumerate(wf.get("nodes", []) if isinstance(wf, dict) else []):
            if isinstance(n, dict) and n.get("type") == WEBHOOK_NODE_TYPE:
                path = (n.get("parameters") or {}).get("path")
                if isinstance(path, str):
                    if path in paths:
                        problems.append(
                            LintProblem(
                                shown,
                                pointer("nodes", i, "parameters", "path"),
                                f"webhook path {path!r} is also used by {paths[path]}",
                            )
                        )
                    else:
                        paths[path] = shown
    return problems
