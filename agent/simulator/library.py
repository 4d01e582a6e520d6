"""The shipped scenarios (`agent/scenarios/*.toml`), reachable by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .model import Scenario
from .parse import ScenarioError, load_scenario

SUFFIX = ".toml"


def shipped() -> dict[str, Path]:
    """Shipped scenario files by name, sorted."""
    folder = resources.files("agent") / "scenarios"
    # Installed as package data, so always plain files on disk (no zip imports here).
    files = sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(SUFFIX))
    return {path.stem: path for path in files}


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
