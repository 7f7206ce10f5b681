"""Where the quality app keeps its math and its state changes, held to what the layout
promises: the math imports nothing of Django, and no module imports itself in a circle."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "quality"
PURE = ["agreement", "aggregation", "analysis", "crowd", "leaderboard", "scoring", "texts",
        "trust", "units"]


def test_the_math_imports_without_django():
    modules = ", ".join(f"quality.{name}" for name in PURE)
    script = (f"import sys\nimport {modules}\n"
              "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'django')\n"
              "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=APP.parent,
                          capture_output=True, text=True, env={"PATH": ""})
    assert done.returncode == 0, done.stderr


def _module(path: Path) -> str:
    return ".".join(path.relative_to(APP.parent).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    """The quality modules a module imports when it is loaded (imports inside functions
    run later and cannot close a circle at load time)."""
    name = _module(path)
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found |= {f"{base}.{alias.name}" for alias in node.names} | {base}
    return {module for module in found if module.split(".")[0] == "quality"}


def test_no_import_circle_in_the_quality_app():
    paths = [p for p in APP.rglob("*.py") if "migrations" not in p.parts]
    modules = {_module(p): p for p in paths}
    graph = {name: {m for m in _imports(path) if m in modules and m != name}
             for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                pytest.fail("import circle: " + " -> ".join([*trail, name, target]))
            if target not in state:
                visit(target, [*trail, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
