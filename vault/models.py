"""The vault's tables, on its own metadata (no foreign keys to hub tables)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

CREDENTIAL_KINDS = ("api_key", "oauth_token", "webhook_secret", "service_account")
KEY_STATUSES = ("active", "retired")

# JSON everywhere, JSONB on PostgreSQL (same as the hub's tables).
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def new_credential_id() -> str:
    """A random credential id: `cred_` + 128 random bits."""
    return "cred_" + secrets.token_urlsafe(16)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes in UTC; SQLite hands back naive ones, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class VaultBase(DeclarativeBase):
    """Declarative base of the vault's tables."""

    metadata = metadata


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class VaultKey(VaultBase):
    """One key-encryption key version, wrapped under the master key (NULL once retired)."""

    __tablename__ = "vault_keys"
    __table_args__ = (CheckConstraint(_in("status", KEY_STATUSES), name="status"),)

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Setting this to NULL on retire is the crypto-shredding: the KEK is gone for good.
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Credential(VaultBase):
    """One stored secret: an envelope-encrypted JSON object of fields, plus safe metadata."""

    __tablename__ = "credentials"
    __table_args__ = (CheckConstraint(_in("kind", CREDENTIAL_KINDS), name="kind"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_credential_id)
    tenant_id: Mapped[str] = mapped_column(String(40), index=True, nullable=False)
    # The hub row that owns it (e.g. a connection id); not a foreign key on purpose.
    owner_id: Mapped[str] = mapped_column(String(40), index=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_version: Mapped[int] = mapped_column(Integer, index=True, nullable=False)
    hint: Mapped[dict[str, str]] = mapped_column(JSONType, nullable=False, default=dict)
    scopes: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )

    def __repr__(self) -> str:
        # Never show the ciphertext or hints in logs and tracebacks.
        return f"<Credential {self.id} tenant={self.tenant_id} v{self.key_version}>"
