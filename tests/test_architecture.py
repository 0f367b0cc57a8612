"""The layering contract, read from the source with ``ast`` (every import, including those inside functions).

* The library proper imports nothing from the applications.
* The library's modules import one another without a circle.
* No module imports another module's private (underscore) names; shared internals live in
  private modules (``_relaxation``, ``distributions._base``) whose names are public there.
* No name in a package's namespace shadows one of its submodules.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import gumbel_softmax

SRC = Path(gumbel_softmax.__file__).parent
APPLICATIONS = ("experiments", "explorer", "studies", "cli", "__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def is_application(name: str) -> bool:
    parts = name.split(".")
    return len(parts) > 1 and parts[1] in APPLICATIONS


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads from."""
    if node.level == 0:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for every import statement of ``module``."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, node)
            for alias in node.names:
                # `from package import submodule` imports the submodule.
                target = f"{source}.{alias.name}"
                found.append((target, None, node.lineno) if target in MODULES else (source, alias.name, node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.value, None, node.lineno))
    return [(target, name, line) for target, name, line in found if target.split(".")[0] == "gumbel_softmax"]


LIBRARY = [name for name in MODULES if not is_application(name)]


def test_the_module_lists_are_what_they_claim():
    assert "gumbel_softmax.functional" in LIBRARY and "gumbel_softmax.estimators.registry" in LIBRARY
    assert any(is_application(name) for name in MODULES)
    assert not any(is_application(name) for name in LIBRARY)


@pytest.mark.parametrize("module", LIBRARY)
def test_the_library_imports_no_application(module):
    wrong = [f"line {line}: {target}" for target, _, line in imports(module) if is_application(target)]
    assert not wrong, f"{module} imports applications: {wrong}"


def library_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in LIBRARY:
        targets = set()
        for target, _, _ in imports(module):
            # An import of a.b.c also runs a and a.b; count the module named, where it is one of ours.
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != module and target in LIBRARY:
                targets.add(target)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A list of modules forming a circle, or ``None``. A package's ``__init__`` importing its own
    submodules is not a circle; a submodule importing its package's ``__init__`` back is one."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if node.startswith(nxt + "."):  # a submodule's import of a name from its parent package
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


def test_the_library_has_no_import_circle():
    cycle = find_cycle(library_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_is_imported_across_modules(module):
    wrong = [
        f"line {line}: {target}.{name}"
        for target, name, line in imports(module)
        if name is not None and name.startswith("_") and not name.startswith("__")
    ]
    assert not wrong, f"{module} imports private names: {wrong}"


def packages() -> list[str]:
    return [name for name, path in MODULES.items() if path.name == "__init__.py" and name.split(".")[-1] != "kernels"]


@pytest.mark.parametrize("package", packages())
def test_no_name_shadows_a_submodule(package):
    """``import gumbel_softmax.x as m`` must give the module: the package may not bind ``x`` to anything else."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        value = getattr(pkg, info.name, None)
        assert value is None or getattr(value, "__name__", None) == f"{package}.{info.name}", (
            f"{package}.{info.name} is {value!r}, not the submodule {package}.{info.name}"
        )


def test_kernels_names_do_not_shadow_submodules():
    pytest.importorskip("triton")
    test_no_name_shadows_a_submodule("gumbel_softmax.kernels")
