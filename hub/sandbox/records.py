"""What the sandbox proxy recorded of one request: what was asked and what was answered."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs


@dataclass
class RecordedRequest:
    """One request through the proxy, for tests to assert on (``to_dict`` for HTTP)."""

    id: int
    vendor: str
    method: str
    path: str  # vendor-relative, raw (percent-encoded) as received, e.g. /v3/mail/send
    query: str  # raw query string without '?'
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    status: int
    violations: list[dict[str, Any]]  # Prism's JSON violation objects
    response_headers: dict[str, str]
    response_body: bytes
    fault: bool = False
    at: float = 0.0
    duration_ms: float = 0.0

    @property
    def content_type(self) -> str:
        """The request's media type, lower case, without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def params(self) -> dict[str, list[str]]:
        """The query string's parameters."""
        return parse_qs(self.query, keep_blank_values=True)

    @property
    def form(self) -> dict[str, list[str]]:
        """Fields of a urlencoded or multipart body ({} otherwise); file parts give their
        file name."""
        if self.content_type == "application/x-www-form-urlencoded":
            return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        if self.content_type == "multipart/form-data":
            return parse_multipart(self.headers.get("content-type", ""), self.body)
        return {}

    def json(self) -> Any:
        """The request body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def response_json(self) -> Any:
        """The response body parsed as JSON (None when empty)."""
        return json.loads(self.response_body) if self.response_body else None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON, bodies as text and the request body also as base64."""
        return {
            "id": self.id,
            "vendor": self.vendor,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "body_base64": base64.b64encode(self.body).decode(),
            "form": self.form,
            "status": self.status,
            "violations": self.violations,
            "response_headers": self.response_headers,
            "response_body": self.response_body.decode("utf-8", "replace"),
            "fault": self.fault,
            "at": self.at,
            "duration_ms": round(self.duration_ms, 2),
        }


def parse_multipart(content_type: str, body: bytes) -> dict[str, list[str]]:
    """A ``multipart/form-data`` body's fields; a file part gives ``<file NAME>``."""
    msg = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    out: dict[str, list[str]] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        if filename:
            value = f"<file {filename}>"
        else:
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            value = raw.decode(part.get_content_charset() or "utf-8", "replace")
        out.setdefault(str(name), []).append(value)
    return out
