"""Which vendors the sandbox serves (one OpenAPI spec each, or a real server) and their names."""

from __future__ import annotations

from pathlib import Path

SPECS_DIR = Path(__file__).resolve().parent / "specs"
SPEC_SUFFIXES = (".json", ".yaml", ".yml")

#: Integration slugs whose sandbox vendor (spec file) has another name; Sandbox methods
#: accept either.
VENDOR_ALIASES = {"google_maps": "google_maps_geocode", "outlook_calendar": "msgraph_calendar"}

#: The vendor served by a real CalDAV server (Radicale) rather than a Prism mock: CalDAV has
#: no OpenAPI spec, and a real server checks what a mock could not (iCalendar, auth).
CALDAV_VENDOR = "apple_calendar"


def available_vendors(specs_dir: Path = SPECS_DIR) -> dict[str, Path]:
    """Vendor name (spec file name without extension) -> spec path."""
    return {
        p.stem: p for p in sorted(specs_dir.iterdir()) if p.suffix in SPEC_SUFFIXES and p.is_file()
    }


def sandbox_vendor(name: str) -> str:
    """The sandbox vendor for a vendor or integration name (``google_maps`` ->
    ``google_maps_geocode``)."""
    return VENDOR_ALIASES.get(name, name)


def all_vendor_names(specs_dir: Path = SPECS_DIR) -> list[str]:
    """Every vendor the sandbox can serve: the specs' and the CalDAV server's, sorted."""
    return sorted([*available_vendors(specs_dir), CALDAV_VENDOR])


def sandbox_port_count(specs_dir: Path = SPECS_DIR) -> int:
    """Ports a full sandbox takes from its base port on: the proxy's and one per vendor."""
    return 1 + len(all_vendor_names(specs_dir))
