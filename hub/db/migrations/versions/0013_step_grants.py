"""step grants: the right to record the finished steps of one dispatch of a multi-step run

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_grants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("expires_at", hub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_step_grants_run_id_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_step_grants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_grants")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_step_grants_token_hash")),
    )
    op.create_index(op.f("ix_step_grants_run_id"), "step_grants", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_step_grants_run_id"), table_name="step_grants")
    op.drop_table("step_grants")
