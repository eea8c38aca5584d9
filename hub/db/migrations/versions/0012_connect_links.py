"""connect links: single-use links an agent hands its user to connect an OAuth integration

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connect_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("integration_slug", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", hub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", hub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_connect_links_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_connect_links_token_hash")),
    )
    op.create_index(
        op.f("ix_connect_links_tenant_id"), "connect_links", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_connect_links_tenant_id"), table_name="connect_links")
    op.drop_table("connect_links")
