"""The package's shape: every import inside `src/arvideo_hf` (module-level or local) follows one layer order, so there
is no import cycle; each subpackage says what it holds; the shipped model files import nothing outside themselves."""

import ast
import sys
from pathlib import Path

import pytest


PACKAGE = Path(__file__).parents[1] / "src" / "arvideo_hf"
# Bottom to top: a module may import its own layer and the layers below it, never one above.
LAYERS = (
    ("models",),
    ("recipes", "results", "environment", "integrity", "locking"),
    ("interop",),
    ("data",),
    ("zoo",),
    ("viz",),
    ("training",),
    ("demo", "app"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Every arvideo_hf module that `path` imports anywhere in its text, with the packages that importing it runs."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets.add(module)
            targets |= {f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in known}
    found = set()
    for target in targets:
        if not target.startswith("arvideo_hf"):
            continue
        parts = target.split(".")
        for depth in range(2, len(parts) + 1):  # importing a.b.c runs a.b first, unless a.b is our own ancestor
            parent = ".".join(parts[:depth])
            if parent in known and parent != name and not name.startswith(parent + "."):
                found.add(parent)
    return found


def layer_of(name: str) -> int:
    top = name.split(".")[1] if "." in name else None
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"{name} belongs to no layer of LAYERS; add its subpackage there")


def test_imports_follow_the_layers_so_there_is_no_cycle():
    known = set(modules())
    graph = {name: imported_modules(name, path, known) for name, path in modules().items()}
    upward = [
        f"{name} -> {target}"
        for name, targets in graph.items() if name != "arvideo_hf"
        for target in targets if target != "arvideo_hf" and layer_of(target) > layer_of(name)
    ]
    assert not upward, f"imports that reach a higher layer: {upward}"
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(trail[trail.index(target):] + [target])}")
            if target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_walker_sees_local_imports_and_cycles(tmp_path, monkeypatch):
    """The check above must fail on a cycle hidden in a function body, as `modeling -> videomae` once was."""
    package = tmp_path / "arvideo_hf"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "__init__.py").write_text("")
    (package / "models" / "a.py").write_text("def f():\n    from . import b\n")
    (package / "models" / "b.py").write_text("from .a import f\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    with pytest.raises(AssertionError, match="import cycle"):
        test_imports_follow_the_layers_so_there_is_no_cycle()


def test_every_subpackage_says_what_it_holds():
    for init in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring and len(docstring.split()) >= 8, f"{init} needs a docstring saying what the package holds"


def test_the_shipped_model_files_import_only_each_other():
    shipped = {"configuration_arvideo", "modeling_arvideo", "clustering"}
    for name in shipped:
        for node in ast.walk(ast.parse((PACKAGE / "models" / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and node.module in shipped, f"{name}.py imports .{node.module}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert not (module or "").startswith("arvideo_hf"), f"{name}.py imports {module}"
