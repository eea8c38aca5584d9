"""tenant OAuth apps: an owner or admin registers the tenant's own app in the console, and
each OAuth connection remembers whose app issued its tokens

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_tenant_apps",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("integration_slug", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=300), nullable=False),
        sa.Column("credential_id", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", hub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_oauth_tenant_apps_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "integration_slug", name=op.f("pk_oauth_tenant_apps")),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oauth_app", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("oauth_app")
    op.drop_table("oauth_tenant_apps")
