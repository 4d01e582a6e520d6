"""The package's parts import in one direction: no module-level import circle anywhere, and
`from agent import CallEvent` does not load the worker's heavy parts."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "agent"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module loads: not in functions, not under `if TYPE_CHECKING`."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.Try):
            found += [n for n in node.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return found


def imported(path: Path, modules: set[str]) -> set[str]:
    """The package's modules (and subpackages) that loading `path` loads first."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _module_level(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
            continue
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
        if node.level == 0:
            source = node.module or ""
        targets.add(source)
        targets |= {f"{source}.{alias.name}" for alias in node.names}
    found = set()
    for target in targets:
        # Loading a.b.c runs a.b's __init__ first, unless a.b is this module's own package
        # (already loading), or the top package (the public surface: it imports everything
        # and nothing inside imports it).
        parts = target.split(".")
        for end in range(2, len(parts) + 1):
            candidate = ".".join(parts[:end])
            own = candidate == name or name.startswith(candidate + ".")
            if candidate in modules and not own:
                found.add(candidate)
    return found


def test_no_import_circle() -> None:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    modules = set(paths) - {"agent"}
    graph = {name: imported(paths[name], modules) for name in modules}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_event_types_are_cheap_to_import() -> None:
    """A handler that only needs the event types does not load the worker, the CLI or the
    database layer."""
    code = (
        "import sys; from agent import CallEvent, CallEnded; "
        "heavy = [m for m in ('livekit.agents', 'typer', 'sqlalchemy', 'alembic') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


# A heavy part loaded when first used, never a circle hidden in a function.
DEFERRED = {("agent.cli", "agent.simulator.command")}


def test_no_package_import_hidden_in_a_function() -> None:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (
                    node.level or (node.module or "").startswith("agent")
                ):
                    name = module_name(path)
                    base = name if path.name == "__init__.py" else name.rpartition(".")[0]
                    for _ in range(max(node.level - 1, 0)):
                        base = base.rpartition(".")[0]
                    target = f"{base}.{node.module}" if node.level else node.module
                    found.add((name, target))
    assert found <= DEFERRED, found - DEFERRED


# Parts that must never load another: the database layer knows no tables; the call log and
# the webhook outbox each own theirs and build on the database layer, never on each other;
# the stand-in is built on by the simulator and the tests' harness, and the simulator (a
# product part) is not built on test code.
NEVER = {
    "agent.database": ("agent.store", "agent.webhooks"),
    "agent.store": ("agent.webhooks",),
    "agent.webhooks": ("agent.store",),
    "agent.standin": ("agent.simulator", "agent.testing"),
    "agent.simulator": ("agent.testing",),
}


def test_parts_import_in_their_direction() -> None:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    modules = set(paths) - {"agent"}
    wrong = set()
    for name in modules:
        for part, forbidden in NEVER.items():
            if name == part or name.startswith(part + "."):
                wrong |= {
                    (name, target)
                    for target in imported(paths[name], modules)
                    if target.startswith(forbidden)
                }
    assert not wrong, wrong
