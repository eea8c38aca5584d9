"""``python -m hub.sandbox``: run the vendor sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from hub.core.installs import InstallError
from hub.sandbox.errors import SandboxError
from hub.sandbox.install import ensure_prism
from hub.sandbox.runner import Sandbox
from hub.sandbox.vendors import all_vendor_names


def main(argv: list[str] | None = None) -> int:
    """Start the sandbox, print its URLs and serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m hub.sandbox",
        description="Serve the vendor specs with Prism behind the recording sandbox proxy.",
    )
    parser.add_argument(
        "--base-port",
        type=int,
        default=4010,
        help="proxy port; the mocks use the next ports (0: any free ports). Default 4010.",
    )
    parser.add_argument(
        "--vendor",
        action="append",
        dest="vendors",
        choices=all_vendor_names(),
        help="serve only this vendor (repeatable; default: all)",
    )
    parser.add_argument("--cache-dir", default=None, help="where Prism is installed")
    args = parser.parse_args(argv)

    try:
        prism = ensure_prism(args.cache_dir)
        # die_with_parent: a kill -9 of this process takes the Prism mocks with it.
        sandbox = Sandbox(prism, args.base_port, vendors=args.vendors, die_with_parent=True).start()
    except (InstallError, SandboxError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        print(f"sandbox proxy: {sandbox.proxy_url}")
        for vendor in sandbox.vendors:
            base, upstream = sandbox.base_url(vendor), sandbox.upstream_url(vendor)
            print(f"  {vendor:<22} base URL {base:<45} ({upstream})")
        if sandbox.caldav is not None:
            cal = sandbox.caldav
            print(
                f"CalDAV test user: {cal.user} password {cal.password} calendar {cal.calendar_path}"
            )
        print(f"recorded requests: GET {sandbox.proxy_url}/__sandbox/requests?vendor=<vendor>")
        print(
            f"inject a fault:    POST {sandbox.proxy_url}/__sandbox/faults "
            '{"vendor": "twilio", "status": 429, "times": 1, "retry_after": 30}'
        )
        print("Ctrl-C to stop.", flush=True)
        stop.wait()
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
