"""Install a pinned Prism (the vendor mock server) into a per-version cache folder.

``@stoplight/prism-cli`` is installed with the system npm (Node >= 18 is fine) into
``${HUB_CACHE_DIR:-~/.cache/agent-hub}/prism/<version>/`` once; a marker file
``.install-ok`` records ``prism-cli=<version>`` and a later call only checks it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from hub.core.installs import (
    InstallError,
    Reporter,
    cache_root,
    check_prerequisites,
    locked_install_dir,
    quiet_npm_env,
    read_stripped,
    run_logged,
)

PRISM_VERSION = "5.16.0"


def prism_install_dir(
    cache_dir: str | os.PathLike[str] | None = None, version: str = PRISM_VERSION
) -> Path:
    """The folder Prism ``version`` is installed in."""
    return cache_root(cache_dir) / "prism" / version


def ensure_prism(
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    *,
    version: str = PRISM_VERSION,
) -> Path:
    """Install ``@stoplight/prism-cli@version`` with the system npm (Node >= 18 is fine)
    into ``<cache>/prism/<version>`` once; return the ``prism`` executable."""
    install_dir = prism_install_dir(cache_dir, version)
    prism_bin = install_dir / "node_modules" / ".bin" / "prism"
    pkg_json = install_dir / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
    marker = install_dir / ".install-ok"
    log_path = install_dir / "install.log"
    stamp = f"prism-cli={version}"

    def ok() -> bool:
        """Whether the marker and the installed package both say ``version``."""
        if read_stripped(marker) != stamp or not prism_bin.exists():
            return False
        try:
            return json.loads(pkg_json.read_text()).get("version") == version
        except (OSError, ValueError):
            return False

    if ok():
        return prism_bin
    with locked_install_dir(install_dir), Reporter(progress, "prism-install") as rep:
        if ok():
            return prism_bin
        rep.note(f"installing @stoplight/prism-cli {version} into {install_dir} (log: {log_path})")
        with rep.step("checking prerequisites (npm, node)"):
            check_prerequisites(
                ("npm", "node"),
                installing="Prism",
                why="npm fetches @stoplight/prism-cli and node runs it.",
            )
        want = json.dumps(
            {
                "name": "local-prism",
                "private": True,
                "dependencies": {"@stoplight/prism-cli": version},
            },
            separators=(",", ":"),
        )
        if read_stripped(install_dir / "package.json") != want:
            (install_dir / "package.json").write_text(want + "\n")
            marker.unlink(missing_ok=True)
        env = quiet_npm_env()
        npm = shutil.which("npm") or "npm"
        with rep.step(f"npm install @stoplight/prism-cli@{version}"):
            run_logged(
                [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=install_dir,
                env=env,
                log_path=log_path,
                step="npm install prism",
            )
        with rep.step("verifying prism"):
            run_logged(
                [str(prism_bin), "--version"],
                cwd=install_dir,
                env=env,
                log_path=log_path,
                step="verify prism",
            )
            marker.write_text(stamp + "\n")
            if not ok():
                raise InstallError(
                    f"step 'verify prism': {prism_bin} or its package.json is missing after "
                    f"npm install. Log: {log_path}",
                    step="verify prism",
                    log_path=log_path,
                )
    return prism_bin
