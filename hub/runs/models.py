"""Runs (one per tool call, durable from before the webhook is sent) and credential grants."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, JSONType, UTCDateTime, id_column, utcnow

# pending: written, not yet sent; sent: the webhook call is under way;
# succeeded / failed: the workflow answered; outcome_unknown: sent, answer lost (a crash or
# timeout) -- never resent blindly; awaiting_authorization / denied / expired: the queue's;
# paused: its connection is in error, nothing was sent; it resumes when the connection passes
# a test, or ends `expired` at paused_until.
RunStatus = Literal[
    "pending",
    "sent",
    "succeeded",
    "failed",
    "outcome_unknown",
    "awaiting_authorization",
    "paused",
    "denied",
    "expired",
]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
TERMINAL = ("succeeded", "failed", "outcome_unknown", "denied", "expired")


class Run(Base):
    """One tool call: who asked, what ran where, and how it ended."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_runs_tenant_created", "tenant_id", "created_at"),
        Index("ix_runs_status", "status"),
    )

    id: Mapped[str] = id_column("run")
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    caller: Mapped[str] = mapped_column(String(80), nullable=False)
    tool: Mapped[str] = mapped_column(String(64), nullable=False)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    connection_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    workflow_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Arguments with secret-typed fields replaced by "[redacted]".
    args: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    args_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reasoning: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(24), default="pending", nullable=False)
    result: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    vendor_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    retry_after_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(nullable=True)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Grant(Base):
    """A single-use, short-lived right to read one connection's credential for one run."""

    __tablename__ = "credential_grants"

    id: Mapped[str] = id_column("gr")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True, nullable=False
    )
    connection_id: Mapped[str] = mapped_column(String(40), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StepGrant(Base):
    """The right to record the finished steps of one dispatch of one multi-step run.

    Minted with each webhook call of a tool that declares steps and sent in its body (never
    stored raw); valid while that dispatch is in flight: finish() closes it, and it expires
    after STEP_GRANT_TTL. Each step of the run is recorded once (RunStep's unique key).
    """

    __tablename__ = "step_grants"

    id: Mapped[str] = id_column("sg")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True, nullable=False
    )
    connection_id: Mapped[str] = mapped_column(String(40), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class RunStep(Base):
    """A finished step of a multi-step workflow run, keyed by the run and the step's name.

    A resumed run sends the recorded steps with its webhook call, so the workflow replays
    their results instead of calling the vendor again (step-scoped idempotency). The result
    is scrubbed of the connection's secrets and capped in size (hub.runs.steps).
    """

    __tablename__ = "run_steps"
    __table_args__ = (UniqueConstraint("run_id", "step"),)

    id: Mapped[str] = id_column("stp")
    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True, nullable=False
    )
    step: Mapped[str] = mapped_column(String(64), nullable=False)
    result: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
