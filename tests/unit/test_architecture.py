"""The shape of the code, checked on its source (issue 11): no import cycle, one clock, one settings
object, readers independent of the simulators."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "energy_pipelines"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The project modules a statement imports (`from pkg import sub` counts sub when it is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    base = node.module or ""
    if node.level:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    found = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return found or ([base] if base in MODULES else [])


def _module_level_imports(name: str) -> set[str]:
    """Imports run when the module is imported (a function's own import runs later, on purpose)."""
    out: set[str] = set()
    stack = list(TREES[name].body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.update(_resolve(name, node))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            stack.extend(ast.iter_child_nodes(node))
        elif isinstance(node, ast.ExceptHandler):
            stack.extend(node.body)
    out.discard(name)
    return out


def test_the_import_graph_has_no_cycle():
    graph = {name: _module_level_imports(name) for name in MODULES}
    # a package importing its own submodules in __init__ is not a cycle with them
    graph = {m: {d for d in deps if not (m.startswith(d + ".") and MODULES[d].name == "__init__.py")}
             for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _offences(predicate) -> list[str]:
    return [f"{MODULES[name].relative_to(PACKAGE.parent)}:{node.lineno}"
            for name, tree in TREES.items() for node in ast.walk(tree) if predicate(name, node)]


def test_timezones_are_defined_in_the_clock_only():
    def defines_a_zone(name: str, node: ast.AST) -> bool:
        if name == "energy_pipelines.clock":
            return False
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value in ("Europe/Paris", "CET", "CEST")
        return isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "ZoneInfo"

    assert _offences(defines_a_zone) == []


def test_the_environment_is_read_by_the_settings_only():
    def reads_env(name: str, node: ast.AST) -> bool:
        if name == "energy_pipelines.settings":
            return False
        text = ast.unparse(node) if isinstance(node, ast.Attribute | ast.Call) else ""
        return text in ("os.environ", "os.getenv") or (isinstance(node, ast.Call) and text.startswith("os.getenv("))

    assert _offences(reads_env) == []


@pytest.mark.parametrize("readers", ["energy_pipelines.sources"])
def test_readers_do_not_import_the_simulators(readers):
    offenders = {m: sorted(d for d in _module_level_imports(m) if d.startswith("energy_pipelines.simulate"))
                 for m in MODULES if m == readers or m.startswith(readers + ".")}
    assert {m: d for m, d in offenders.items() if d} == {}
