"""The shipped scenarios (`agent/scenarios/*.toml`), reachable by name."""

from __future__ import annotations

from pathlib import Path

from .model import Scenario
from .parse import ScenarioError, load_scenario

SUFFIX = ".toml"
# Package data beside the code (pyproject's package-data), so plain files on disk.
FOLDER = Path(__file__).resolve().parent.parent / "scenarios"


def shipped() -> dict[str, Path]:
    """Shipped scenario files by name, sorted."""
    return {path.stem: path for path in sorted(FOLDER.glob(f"*{SUFFIX}"))}


def find(name_or_path: str) -> Scenario:
    """A scenario file by path, or a shipped one by name."""
    path = Path(name_or_path)
    if path.suffix == SUFFIX or path.exists():
        return load_scenario(path)
    library = shipped()
    if name_or_path not in library:
        msg = (
            f"no scenario file or shipped scenario {name_or_path!r};"
            f" shipped: {', '.join(library)} (see `simulate --list`)"
        )
        raise ScenarioError(msg)
    return load_scenario(library[name_or_path])
