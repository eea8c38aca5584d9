"""What the hub writes to disk is its owner's alone: the data folder 0700, the database 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from hub.runtime import open_runtime
from tests.conftest import make_settings


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_data_folder_and_sqlite_files_are_private(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    old = os.umask(0o022)  # what a shell usually has: files would be world-readable
    try:
        rt = open_runtime(make_settings(data, f"sqlite:///{data / 'hub.db'}"))
        with rt.db.engine.begin() as c:  # write, so the WAL exists
            c.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        files = [p for p in data.iterdir() if p.name.startswith("hub.db")]
        assert {p.name for p in files} >= {"hub.db", "hub.db-wal"}
        assert mode(data) == 0o700
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        rt.close()
    finally:
        os.umask(old)
