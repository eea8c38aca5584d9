"""Vault: seal/open per operation (pure crypto and through the database).

Run: uv run python -m bench.vault_bench
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.stats import print_rows, summary, time_each
from vault import Vault, metadata, open_blob, seal


def main() -> None:
    """Measure and print a Markdown table."""
    kek = secrets.token_bytes(32)
    secret = b'{"api_key": "' + secrets.token_hex(24).encode() + b'"}'
    blob = seal(kek, 1, secret, "ten_x", "cred_x")
    rows = [
        summary(
            "envelope seal (AES-256-GCM, new DEK)",
            time_each(lambda: seal(kek, 1, secret, "ten_x", "cred_x"), 20000),
        ),
        summary("envelope open", time_each(lambda: open_blob(kek, blob, "ten_x", "cred_x"), 20000)),
    ]
    with tempfile.TemporaryDirectory() as d:
        eng = sa.create_engine(f"sqlite:///{Path(d) / 'v.db'}")
        metadata.create_all(eng)
        v = Vault(secrets.token_bytes(32))
        with Session(eng) as s:
            v.load(s)
            cred = v.put(
                s,
                tenant_id="ten_x",
                owner_id="con_x",
                kind="api_key",
                fields={"api_key": secrets.token_hex(24)},
            )
            s.commit()
            cid = cred.id
            rows.append(
                summary(
                    "Vault.read (SQLite row + open)",
                    time_each(lambda: v.read(s, "ten_x", cid), 5000),
                )
            )
            rows.append(
                summary(
                    "Vault.put (seal + SQLite write, no commit)",
                    time_each(
                        lambda: v.put(
                            s,
                            tenant_id="ten_x",
                            owner_id="con_x",
                            kind="api_key",
                            fields={"api_key": "x" * 40},
                            credential_id=cid,
                        ),
                        3000,
                    ),
                )
            )
        eng.dispose()
    print_rows(rows)


if __name__ == "__main__":
    main()
