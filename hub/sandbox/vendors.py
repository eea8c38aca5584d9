"""Which vendors the sandbox serves (one OpenAPI spec each) and the names they go by."""

from __future__ import annotations

from pathlib import Path

SPECS_DIR = Path(__file__).resolve().parent / "specs"
SPEC_SUFFIXES = (".json", ".yaml", ".yml")

#: Integration slugs whose sandbox vendor (spec file) has another name; Sandbox methods
#: accept either.
VENDOR_ALIASES = {"google_maps": "google_maps_geocode", "outlook_calendar": "msgraph_calendar"}


def available_vendors(specs_dir: Path = SPECS_DIR) -> dict[str, Path]:
    """Vendor name (spec file name without extension) -> spec path."""
    return {
        p.stem: p for p in sorted(specs_dir.iterdir()) if p.suffix in SPEC_SUFFIXES and p.is_file()
    }


def sandbox_vendor(name: str) -> str:
    """The sandbox vendor for a vendor or integration name (``google_maps`` ->
    ``google_maps_geocode``)."""
    return VENDOR_ALIASES.get(name, name)
