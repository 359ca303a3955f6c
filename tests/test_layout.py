"""The house's shape (STYLE.md, issue 18): small modules, imports only downwards, no circles.
These read the source, so they fail the moment a change breaks the shape."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).parent.parent
PACKAGES = ("eventlog", "projections", "sessionlog")
MAX_LINES = 450


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """Every project module `name` imports, at any depth of the file (function-level
    imports too; those under `if TYPE_CHECKING:` are left out: they never run)."""
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_no_module_is_over_450_lines():
    big = {name: n for name, path in _modules().items()
           if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not big, big


def test_no_import_circle():
    """Packages importing their own submodules (an `__init__` re-exporting) are not circles;
    any other cycle among modules is."""
    graph = _graph()
    for name in graph:  # a package's __init__ importing its children is how re-exports work
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    for name, deps in graph.items():  # and a child importing its package means its __init__
        graph[name] = {t for t in deps if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_imports_go_only_downwards():
    """eventlog imports neither projections nor sessionlog; projections does not import
    sessionlog; the library never imports the CLI, nor the viewer (sessionlog.web sits
    beside the CLI: only the CLI imports it)."""
    for name, deps in _graph().items():
        top = name.split(".")[0]
        if top == "eventlog":
            assert not {d for d in deps if d.split(".")[0] != "eventlog"}, name
        if top == "projections":
            assert not {d for d in deps if d.startswith("sessionlog")}, name
        if not name.startswith(("sessionlog.cli", "sessionlog.__main__")):
            assert not {d for d in deps if d.startswith("sessionlog.cli")}, name
        if not name.startswith(("sessionlog.cli", "sessionlog.web")):
            assert not {d for d in deps if d.startswith("sessionlog.web")}, name


#: The few reaches into another object's private members that remain, each with its reason.
ALLOWED_PRIVATE = {
    ("eventlog.log", "_local"): "from_connection builds an EventLog: its own class",
    ("eventlog.log", "_init_write_state"): "from_connection builds an EventLog: its own class",
    ("eventlog.log", "_layout_checked"): "from_connection builds an EventLog: its own class",
    ("eventlog.backends.postgres", "_last_w"): "PostgresBackend.over builds its own class",
    ("eventlog.backends.postgres", "_dv"): "PostgresBackend.over builds its own class",
    ("eventlog.backends.sqlite", "_pages_checked"): "SqliteBackend.over builds its own class",
    ("eventlog.backends.urls", "_replace"): "namedtuple's public API (SplitResult._replace)",
    ("sessionlog.integrations.adk", "_storage_update_marker"): "ADK's own services set it (framework)",
}


def test_no_private_reaches_across_objects():
    """`x._name` where x is not self/cls, and `from m import _name` across modules, only where
    ALLOWED_PRIVATE says why (issue 18: layers talk through public names)."""
    found = set()
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    found.add((name, node.attr))
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                for alias in node.names:
                    if alias.name.startswith("_") and (node.module or "").split(".")[0] in PACKAGES:
                        found.add((name, alias.name))
    unexplained = sorted(found - set(ALLOWED_PRIVATE))
    assert not unexplained, unexplained
