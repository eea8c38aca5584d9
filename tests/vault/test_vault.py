"""The vault on real SQLite files: envelope crypto, key ring, rotation, rewrap, retirement."""

from __future__ import annotations

import base64
import os
import random
import secrets
import stat
import string
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from vault import (
    Credential,
    CredentialConflict,
    CredentialNotFound,
    CurrentKeyError,
    DecryptionError,
    KeyRetiredError,
    KeyVersionInUseError,
    MasterKeyError,
    UnknownKeyVersionError,
    Vault,
    VaultError,
    VaultKey,
    blob_version,
    generate_master_key_text,
    load_master_key,
    masked_hint,
    metadata,
    open_blob,
    parse_blob,
    seal,
)
from vault import rewrap as rewrap_blob

OTHER_KEY = f"sk_live_{secrets.token_hex(10)}"
CANARY = f"sk_live_{secrets.token_hex(12)}4242"  # generated, never a real key


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    eng = sa.create_engine(
        f"sqlite:///{tmp_path / 'vault.db'}", connect_args={"check_same_thread": False}
    )

    @sa.event.listens_for(eng, "connect")
    def _wal(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA busy_timeout=10000")

    metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def tx(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """tx() -> a session that commits on success and rolls back on error (like the hub's)."""

    @contextmanager
    def _tx() -> Iterator[Session]:
        s = sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    return _tx


@pytest.fixture
def master() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def vault(master: bytes, tx) -> Vault:  # type: ignore[no-untyped-def]
    v = Vault(master)
    with tx() as s:
        v.load(s)
    return v


def put(vault: Vault, tx, tenant: str = "ten_a", owner: str = "conn_1", **fields: str) -> str:  # type: ignore[no-untyped-def]
    with tx() as s:
        return vault.put(
            s, tenant_id=tenant, owner_id=owner, kind="api_key", fields=fields or {"k": CANARY}
        ).id


def row_of(tx, cred_id: str) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    with tx() as s:
        row = s.get(Credential, cred_id)
        return row.ciphertext, row.key_version


def set_ciphertext(tx, cred_id: str, blob: bytes) -> None:  # type: ignore[no-untyped-def]
    with tx() as s:
        s.get(Credential, cred_id).ciphertext = blob


def read(vault: Vault, tx, cred_id: str, tenant: str = "ten_a") -> dict[str, str]:  # type: ignore[no-untyped-def]
    with tx() as s:
        return vault.read(s, tenant, cred_id)


# ----- envelope ---------------------------------------------------------------------------------


def test_round_trip_and_nothing_plain_in_the_row(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    cid = put(vault, tx, api_key=CANARY, account="acct_123456789")
    assert read(vault, tx, cid) == {"api_key": CANARY, "account": "acct_123456789"}
    blob, version = row_of(tx, cid)
    assert version == 1 and blob_version(blob) == 1
    assert CANARY.encode() not in blob and b"acct_123456789" not in blob
    with tx() as s:
        assert vault.hints(s, "ten_a", cid) == {"api_key": "sk_live_...4242", "account": "...6789"}
        assert CANARY not in repr(s.get(Credential, cid))


def test_blob_layout_names_the_version() -> None:
    kek = os.urandom(32)
    blob = seal(kek, 7, b"hello", "ten_a", "cred_1")
    assert blob[:3] == b"hv1" and blob[3:7] == (7).to_bytes(4, "big")
    assert len(blob) == 3 + 4 + 12 + 48 + 12 + len(b"hello") + 16
    assert blob_version(blob) == 7 and parse_blob(blob).version == 7
    assert open_blob(kek, blob, "ten_a", "cred_1") == b"hello"


def test_aad_is_length_prefixed_not_concatenated() -> None:
    kek = os.urandom(32)
    blob = seal(kek, 1, b"x", "ab", "c")
    with pytest.raises(DecryptionError):
        open_blob(kek, blob, "a", "bc")  # "ab"+"c" == "a"+"bc" if naively joined


def test_one_flipped_byte_anywhere_fails() -> None:
    kek = os.urandom(32)
    blob = seal(kek, 1, CANARY.encode(), "ten_a", "cred_1")
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(VaultError) as err:
            open_blob(kek, bytes(bad), "ten_a", "cred_1")
        assert CANARY not in str(err.value)
    assert open_blob(kek, blob, "ten_a", "cred_1") == CANARY.encode()


def test_nonces_never_repeat_over_10000_seals() -> None:
    kek = os.urandom(32)
    wrap_nonces, data_nonces, wrapped = set(), set(), set()
    for _ in range(10_000):
        p = parse_blob(seal(kek, 1, b"same plaintext", "ten_a", "cred_1"))
        wrap_nonces.add(p.wrap_nonce)
        data_nonces.add(p.data_nonce)
        wrapped.add(p.wrapped_dek)
    assert len(wrap_nonces) == len(data_nonces) == len(wrapped) == 10_000
    assert all(len(n) == 12 for n in wrap_nonces)


def test_envelope_rewrap_keeps_data_part() -> None:
    old, new = os.urandom(32), os.urandom(32)
    blob = seal(old, 1, b"secret", "ten_a", "cred_1")
    moved = rewrap_blob(old, new, 2, blob, "ten_a", "cred_1")
    a, b = parse_blob(blob), parse_blob(moved)
    assert (b.data_nonce, b.data_ciphertext) == (a.data_nonce, a.data_ciphertext)
    assert b.version == 2 and b.wrapped_dek != a.wrapped_dek and b.wrap_nonce != a.wrap_nonce
    assert open_blob(new, moved, "ten_a", "cred_1") == b"secret"
    with pytest.raises(DecryptionError):
        open_blob(old, moved, "ten_a", "cred_1")
    with pytest.raises(DecryptionError):
        rewrap_blob(old, new, 2, blob, "ten_b", "cred_1")  # moved rows cannot be rewrapped


# ----- binding to rows and tenants --------------------------------------------------------------


def test_ciphertext_copied_into_another_row_fails(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    a = put(vault, tx, api_key=CANARY)
    b = put(vault, tx, api_key=OTHER_KEY)
    set_ciphertext(tx, b, row_of(tx, a)[0])
    with pytest.raises(DecryptionError) as err:
        read(vault, tx, b)
    assert "altered" in str(err.value) and CANARY not in str(err.value)


def test_ciphertext_copied_into_another_tenant_fails(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    a = put(vault, tx, "ten_a", api_key=CANARY)
    b = put(vault, tx, "ten_b", api_key=OTHER_KEY)
    set_ciphertext(tx, b, row_of(tx, a)[0])
    with pytest.raises(DecryptionError):
        read(vault, tx, b, "ten_b")
    # Same row id, tenant column changed: still bound to the original tenant.
    with tx() as s:
        s.get(Credential, a).tenant_id = "ten_b"
    with pytest.raises(DecryptionError):
        read(vault, tx, a, "ten_b")


def test_flipped_byte_in_stored_row_fails(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    cid = put(vault, tx, api_key=CANARY)
    blob = bytearray(row_of(tx, cid)[0])
    blob[-5] ^= 0x80
    set_ciphertext(tx, cid, bytes(blob))
    with pytest.raises(DecryptionError):
        read(vault, tx, cid)


def test_other_tenant_sees_not_found(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    cid = put(vault, tx, "ten_a", api_key=CANARY)
    with tx() as s, pytest.raises(CredentialNotFound):
        vault.read(s, "ten_b", cid)
    with tx() as s, pytest.raises(CredentialNotFound):
        vault.hints(s, "ten_b", cid)
    with tx() as s:
        assert vault.delete(s, "ten_b", cid) is False
    with tx() as s, pytest.raises(CredentialConflict):
        vault.put(s, tenant_id="ten_b", owner_id="o", kind="api_key", fields={"k": "v"},
                  credential_id=cid)  # fmt: skip
    assert read(vault, tx, cid) == {"api_key": CANARY}


def test_put_replaces_with_new_data_key(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    cid = put(vault, tx, api_key=CANARY)
    before = parse_blob(row_of(tx, cid)[0])
    with tx() as s:
        row = vault.put(s, tenant_id="ten_a", owner_id="conn_1", kind="oauth_token",
                        fields={"access_token": "at_new_value_1234567890ab"}, scopes=["read"],
                        credential_id=cid)  # fmt: skip
        assert row.id == cid
    after = parse_blob(row_of(tx, cid)[0])
    assert after.wrapped_dek != before.wrapped_dek and after.data_nonce != before.data_nonce
    assert read(vault, tx, cid) == {"access_token": "at_new_value_1234567890ab"}
    with tx() as s:
        assert s.get(Credential, cid).scopes == ["read"]
        assert vault.hints(s, "ten_a", cid) == {"access_token": "at_new_...90ab"}


def test_delete_and_delete_for_owner(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    mine = [put(vault, tx, "ten_a", "conn_1", k=f"value-{i}-xxxxxxxx") for i in range(3)]
    other_owner = put(vault, tx, "ten_a", "conn_2")
    other_tenant = put(vault, tx, "ten_b", "conn_1")
    with tx() as s:
        assert vault.delete_for_owner(s, "ten_a", "conn_1") == 3
    with tx() as s:
        assert all(s.get(Credential, c) is None for c in mine)
        assert vault.delete(s, "ten_a", other_owner) is True
        assert s.get(Credential, other_tenant) is not None


def test_hint_carrying_a_whole_secret_is_refused(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    with tx() as s, pytest.raises(ValueError) as err:
        vault.put(s, tenant_id="ten_a", owner_id="o", kind="api_key", fields={"api_key": CANARY},
                  hint={"api_key": f"key {CANARY}"})  # fmt: skip
    assert CANARY not in str(err.value)


# ----- rotation, rewrap, retirement -------------------------------------------------------------


def test_rotate_new_writes_use_new_version_old_rows_still_decrypt(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    old = put(vault, tx, api_key="sk_live_old_value_000001")
    with tx() as s:
        assert vault.rotate(s) == 2
    new = put(vault, tx, api_key="sk_live_new_value_000002")
    assert row_of(tx, old)[1] == 1 and row_of(tx, new)[1] == 2
    assert blob_version(row_of(tx, new)[0]) == 2
    assert read(vault, tx, old) == {"api_key": "sk_live_old_value_000001"}
    assert read(vault, tx, new) == {"api_key": "sk_live_new_value_000002"}
    with tx() as s:
        st = {v.version: v for v in vault.status(s)}
    assert (st[1].credentials, st[1].is_current, st[2].credentials, st[2].is_current) == (
        1, False, 1, True,
    )  # fmt: skip


def test_rewrap_moves_rows_without_touching_data(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    ids = [put(vault, tx, api_key=f"sk_live_value_{i:010d}") for i in range(7)]
    before = {c: parse_blob(row_of(tx, c)[0]) for c in ids}
    with tx() as s:
        vault.rotate(s)
    progress: list[tuple[int, int]] = []
    with tx() as s:
        assert vault.rewrap(s, batch_size=3, on_progress=lambda d, t: progress.append((d, t))) == 7
    assert progress == [(0, 7), (3, 7), (6, 7), (7, 7)]
    for i, c in enumerate(ids):
        blob, version = row_of(tx, c)
        after = parse_blob(blob)
        assert version == 2 and after.version == 2
        assert after.data_nonce == before[c].data_nonce
        assert after.data_ciphertext == before[c].data_ciphertext
        assert after.wrapped_dek != before[c].wrapped_dek
        assert after.wrap_nonce != before[c].wrap_nonce
        assert read(vault, tx, c) == {"api_key": f"sk_live_value_{i:010d}"}
    with tx() as s:
        assert vault.rewrap(s) == 0


def test_retire_rules_and_retired_ciphertext_is_refused(vault: Vault, tx, master: bytes) -> None:  # type: ignore[no-untyped-def]
    cid = put(vault, tx, api_key=CANARY)
    old_blob = row_of(tx, cid)[0]
    with tx() as s:
        vault.rotate(s)
    with tx() as s, pytest.raises(CurrentKeyError):
        vault.retire(s, 2)
    with tx() as s, pytest.raises(KeyVersionInUseError) as err:
        vault.retire(s, 1)
    assert "1 credential(s) still use it" in str(err.value) and "hub vault rewrap" in str(err.value)
    with tx() as s, pytest.raises(UnknownKeyVersionError):
        vault.retire(s, 9)
    with tx() as s:
        vault.rewrap(s)
    with tx() as s:
        vault.retire(s, 1)
    with tx() as s:
        key = s.get(VaultKey, 1)
        assert key.status == "retired" and key.wrapped_key is None and key.retired_at is not None
        assert key.retired_at.tzinfo is not None  # UTC re-attached on SQLite
        st = {v.version: v for v in vault.status(s)}
    assert st[1].status == "retired" and st[2].is_current and st[2].credentials == 1
    assert read(vault, tx, cid) == {"api_key": CANARY}
    # An old backup of the row, from before the rewrap: refused, in this and in a new process.
    set_ciphertext(tx, cid, old_blob)
    for v in (vault, Vault(master)):
        with pytest.raises(KeyRetiredError) as err:
            read(v, tx, cid)
        assert "version 1 was retired" in str(err.value) and "can no longer be read" in str(
            err.value
        )


def test_unknown_version_in_blob_is_refused(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    cid = put(vault, tx)
    set_ciphertext(tx, cid, seal(os.urandom(32), 99, b"{}", "ten_a", cid))
    with pytest.raises(UnknownKeyVersionError):
        read(vault, tx, cid)


def test_rolled_back_rotation_never_reaches_other_sessions(vault: Vault, sessions, tx) -> None:  # type: ignore[no-untyped-def]
    s1 = sessions()
    assert vault.rotate(s1) == 2
    # The rotating session sees its own version...
    own = vault.put(s1, tenant_id="ten_a", owner_id="o", kind="api_key", fields={"k": "v" * 20})
    assert own.key_version == 2
    s1.rollback()
    s1.close()
    # ...but after rollback nobody seals under a version that is not in the database.
    cid = put(vault, tx)
    assert row_of(tx, cid)[1] == 1
    with tx() as s:
        assert [v.version for v in vault.status(s)] == [1]


def test_rolled_back_initial_load_is_redone(master: bytes, sessions, tx) -> None:  # type: ignore[no-untyped-def]
    v = Vault(master)
    s = sessions()
    v.load(s)
    s.rollback()
    s.close()
    cid = put(v, tx)
    assert read(Vault(master), tx, cid) == {"k": CANARY}  # another process can read it


# ----- several processes ------------------------------------------------------------------------


def test_rotation_by_another_instance_is_seen(master: bytes, vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    hub = Vault(master)  # default 5 s reload interval
    with tx() as s:
        assert hub.load(s) == 1
    cli = Vault(master)
    with tx() as s:
        assert cli.rotate(s) == 2
    from_cli = put(cli, tx, api_key="sk_live_from_cli_00000001")
    # Unknown version -> the hub re-reads the ring at once, then uses v2 for its own writes.
    assert read(hub, tx, from_cli) == {"api_key": "sk_live_from_cli_00000001"}
    assert row_of(tx, put(hub, tx))[1] == 2


def test_reload_interval_notices_rotate_and_retire(master: bytes, tx) -> None:  # type: ignore[no-untyped-def]
    hub = Vault(master, reload_interval=0.05)
    old = put(hub, tx, api_key=CANARY)
    old_blob = row_of(tx, old)[0]
    cli = Vault(master)
    with tx() as s:
        cli.rotate(s)
    time.sleep(0.06)
    assert row_of(tx, put(hub, tx))[1] == 2
    with tx() as s:
        cli.rewrap(s)
    with tx() as s:
        cli.retire(s, 1)
    time.sleep(0.06)
    set_ciphertext(tx, old, old_blob)
    with pytest.raises(KeyRetiredError):  # the hub dropped its cached v1 key too
        read(hub, tx, old)


def test_stale_writer_reseals_when_its_version_was_retired(master: bytes, vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    hub = Vault(master, reload_interval=3600)  # will not re-read the ring on its own
    assert row_of(tx, put(hub, tx))[1] == 1  # the hub now holds v1 as current
    cli = Vault(master)
    with tx() as s:
        cli.rotate(s)
    with tx() as s:
        cli.rewrap(s)
    with tx() as s:
        cli.retire(s, 1)
    # The hub still believes v1 is current; the write must not land under the shredded key.
    cid = put(hub, tx, api_key="sk_live_after_retire_0001")
    assert row_of(tx, cid)[1] == 2
    assert read(cli, tx, cid) == {"api_key": "sk_live_after_retire_0001"}


def test_threads_read_while_ring_rotates(master: bytes, sessions, tx) -> None:  # type: ignore[no-untyped-def]
    hub = Vault(master, reload_interval=0)
    ids = [put(hub, tx, api_key=f"sk_live_thread_{i:08d}") for i in range(4)]
    errors: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            for _ in range(40):
                s = sessions()
                try:
                    assert hub.read(s, "ten_a", ids[n % 4]) == {
                        "api_key": f"sk_live_thread_{n % 4:08d}"
                    }
                finally:
                    s.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    cli = Vault(master)
    for _ in range(2):
        with tx() as s:
            cli.rotate(s)
    for t in threads:
        t.join()
    assert errors == []


# ----- master key -------------------------------------------------------------------------------


def test_wrong_master_key_fails_at_load(vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    with tx() as s, pytest.raises(MasterKeyError) as err:
        Vault(secrets.token_bytes(32)).load(s)
    msg = str(err.value)
    assert "does not unlock key ring version 1" in msg and "master key the ring was created" in msg


def test_master_key_is_never_in_the_database(master: bytes, vault: Vault, tx, engine) -> None:  # type: ignore[no-untyped-def]
    put(vault, tx, api_key=CANARY)
    with tx() as s:
        vault.rotate(s)
    engine.dispose()
    db = b"".join(p.read_bytes() for p in Path(engine.url.database).parent.glob("vault.db*"))
    for form in (master, master.hex().encode(), base64.urlsafe_b64encode(master)):
        assert form not in db
    assert CANARY.encode() not in db


def test_master_key_file_generated_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master.key"
    key, where = load_master_key(None, path, generate=True)
    assert len(key) == 32 and where == f"generated {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]  # no temp file left
    again, where2 = load_master_key(None, path, generate=True)
    assert again == key and where2 == f"from {path}"
    assert load_master_key(None, path, generate=False)[0] == key


def test_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(generate_master_key_text())
    path.chmod(0o640)
    with pytest.raises(MasterKeyError) as err:
        load_master_key(None, path, generate=False)
    assert f"chmod 600 {path}" in str(err.value)


def test_master_key_formats_and_precedence(tmp_path: Path) -> None:
    raw = secrets.token_bytes(32)
    for text in (
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        f"  {raw.hex().upper()}\n",
    ):
        assert load_master_key(text, None, generate=False) == (raw, "from HUB_MASTER_KEY")
    path = tmp_path / "master.key"
    load_master_key(None, path, generate=True)
    assert load_master_key(raw.hex(), path, generate=False)[0] == raw  # value wins over file


@pytest.mark.parametrize(
    "bad",
    ["short", "x" * 42, "x" * 42 + "!", "g" * 64, base64.b64encode(b"k" * 31).decode(), "A" * 44],
)
def test_malformed_master_key_says_the_format(bad: str) -> None:
    with pytest.raises(MasterKeyError) as err:
        load_master_key(bad, None, generate=False)
    msg = str(err.value)
    assert "base64" in msg and "64 hex characters" in msg and "secrets.token_bytes(32)" in msg
    assert bad not in msg


def test_production_mode_needs_a_master_key(tmp_path: Path) -> None:
    for args in ((None, None), ("", tmp_path / "missing.key")):
        with pytest.raises(MasterKeyError) as err:
            load_master_key(*args, generate=False)
        assert "production mode needs HUB_MASTER_KEY or HUB_MASTER_KEY_FILE" in str(err.value)
    assert not (tmp_path / "missing.key").exists()


# ----- hints and hygiene ------------------------------------------------------------------------


def test_masked_hint_examples() -> None:
    assert masked_hint(f"sk_live_{secrets.token_hex(10)}4242") == "sk_live_...4242"
    assert masked_hint(f"xoxb-{secrets.token_hex(8)}-ijkl") == "...ijkl"
    assert (
        masked_hint(f"sk_live_{secrets.token_hex(2)}4242") == "...4242"
    )  # prefix would expose too much
    assert masked_hint("abcdefghij") == "****ij"
    assert masked_hint("abc") == "****"
    assert masked_hint("") == "****"


def test_masked_hint_never_shows_the_middle() -> None:
    rnd = random.Random(1234)
    alphabet = string.ascii_letters + string.digits
    for n in range(0, 90):
        for prefix in ("", "sk_", "sk_live_", "whsec_"):
            value = (prefix + "".join(rnd.choice(alphabet) for _ in range(n)))[:n]
            hint = masked_hint(value)
            shown = hint.replace("...", "").replace("****", "")
            assert len(value) - len(shown) >= len(value) // 2  # at least half stays hidden
            tail = hint.rsplit("...", 1)[-1] if "..." in hint else hint[4:]
            assert len(tail) <= 4 and value.endswith(tail)
            if len(value) >= 16:
                assert value[8:-4] not in hint


def test_no_secret_or_key_bytes_in_errors_or_reprs(master: bytes, vault: Vault, tx) -> None:  # type: ignore[no-untyped-def]
    cid = put(vault, tx, api_key=CANARY)
    other = put(vault, tx, "ten_b")
    set_ciphertext(tx, other, row_of(tx, cid)[0])
    raised: list[BaseException] = []
    for fn in (
        lambda: read(vault, tx, other, "ten_b"),
        lambda: read(vault, tx, cid, "ten_b"),
        lambda: load_master_key(CANARY[:43], None, generate=False),
    ):
        with pytest.raises(VaultError) as err:
            fn()
        raised.append(err.value)
    with tx() as s:
        texts = [repr(vault), repr(s.get(Credential, cid)), repr(vault._ring)]
    texts += [str(e) for e in raised] + [repr(e) for e in raised]
    forms = (CANARY, master.hex(), base64.urlsafe_b64encode(master).decode(), repr(master))
    for text in texts:
        assert not any(f in text for f in forms), text


def test_vault_imports_nothing_from_hub_or_the_web() -> None:
    code = (
        "import sys, vault; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('hub', 'fastapi', 'starlette', 'httpx', 'uvicorn', 'mcp')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
