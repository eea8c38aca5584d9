"""`python -m hub.stack up|down|status|env` (what `scripts/stack` runs)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import psycopg

from hub.core.installs import InstallError
from hub.core.shutdown import orderly_stop
from hub.stack.stack import Stack, StackError


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and act on the stack in ``--dir``."""
    parser = argparse.ArgumentParser(prog="scripts/stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--dir", default=".stack", help="the stack's folder (default .stack)")
    parser.add_argument("--hubs", type=int, default=2, help="hub replicas (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="n8n workers (default 2)")
    parser.add_argument(
        "--private-postgres",
        action="store_true",
        help="run a PostgreSQL cluster of its own instead of databases on 127.0.0.1:5432",
    )
    parser.add_argument(
        "--hub-env", action="append", default=[], metavar="KEY=VALUE", help="extra hub setting"
    )
    args = parser.parse_args(argv)
    folder = Path(args.dir).resolve()
    if args.command == "up":
        extra = dict(kv.split("=", 1) for kv in args.hub_env)
        stack = Stack(
            folder,
            hubs=args.hubs,
            workers=args.workers,
            private_postgres=args.private_postgres,
            hub_env=extra,
        )
        try:
            with orderly_stop():  # SIGINT/SIGTERM during start-up: stop what started
                stack.up()
        except KeyboardInterrupt:
            print("stack: interrupted; everything it had started is stopped", file=sys.stderr)
            return 130
        except (StackError, InstallError, OSError, psycopg.Error) as exc:
            print(f"stack: {exc}", file=sys.stderr)
            return 1
        for part, where in stack.describe().items():
            print(f"{part:<14} {where}")
        print(f"stop it with: scripts/stack down --dir {args.dir}")
        return 0
    if not (folder / "stack.json").exists():
        print(f"stack: no stack recorded in {folder}", file=sys.stderr)
        return 0 if args.command == "down" else 1
    stack = Stack.load(folder)
    if args.command == "down":
        with orderly_stop():
            stack.down()
        left = [n for n, _, alive in stack.running() if alive]
        if left:
            print(f"stack: still running: {', '.join(left)}", file=sys.stderr)
            return 1
        print("stack: stopped")
        return 0
    if args.command == "env":
        for k, v in stack.hub_environment().items():
            print(f"export {k}={json.dumps(v)}")
        return 0
    for name, d, alive in stack.running():
        print(f"{name:<14} pid {d.pid:<8} {'running' if alive else 'stopped'}  log {d.log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
