"""The package's layers, and the interface its objectives share.

Layers, top to bottom (``sklearn_gdlogreg/_objective/__init__.py`` and the
other folders' docstrings say what each holds)::

    estimators, CV search, display, CLI, export, callbacks  (top-level modules)
    _inputs      _solvers      (siblings: neither imports the other)
    _objective
    _numerics    (the compiled kernels and their drivers)
    _compat      (scikit-learn's private and version-dependent names)

A module imports only from layers below its own (and from its own folder);
the package's modules import one another at module level only (no import
hidden in a function), and the module graph has no cycle. Read from the
source with ``ast``, so that an import in a branch never taken counts too.
"""

import ast
import pathlib

import pytest

import sklearn_gdlogreg
from sklearn_gdlogreg._objective._array_api import ArrayAPIObjective
from sklearn_gdlogreg._objective._dask import DaskLogisticObjective
from sklearn_gdlogreg._objective._interface import Objective
from sklearn_gdlogreg._objective._numpy import LogisticObjective

PACKAGE = pathlib.Path(sklearn_gdlogreg.__file__).parent
NAME = "sklearn_gdlogreg"
# Lower number: lower layer. Top-level modules not named here are layer 5.
LAYERS = {"_compat": 0, "_numerics": 1, "_objective": 2, "_inputs": 3, "_solvers": 3}
TOP = 5


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """``[(importer, imported, lineno, at_module_level)]`` within the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = _module_name(path)
        package = me if path.name == "__init__.py" else me.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = parts[: len(parts) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [target] if node.module else []
                # ``from . import x``: x may be a module
                names += [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                module = _existing_module(name)
                if module is not None and module != me:
                    found.append((me, module, node.lineno, id(node) in top))
    return found


def _existing_module(name):
    """The package's module (or folder) ``name`` names, or None."""
    if not name.startswith(NAME):
        return None
    parts = name.split(".")[1:]
    while parts:
        path = PACKAGE.joinpath(*parts)
        if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
            return ".".join([NAME, *parts])
        if list(path.parent.glob(parts[-1] + ".*.so")):  # a compiled module
            return ".".join([NAME, *parts])
        parts = parts[:-1]
    return NAME


def _layer(module):
    parts = module.split(".")
    if len(parts) == 1:
        return TOP, NAME
    return LAYERS.get(parts[1], TOP), parts[1]


IMPORTS = _imports()


def test_the_contract_sees_the_imports():
    # The test could pass by reading nothing: it must see known imports.
    pairs = {(a, b) for a, b, _, _ in IMPORTS}
    assert (f"{NAME}._gd_logistic", f"{NAME}._solvers._descent") in pairs
    assert (f"{NAME}._objective._numpy", f"{NAME}._numerics") in pairs


@pytest.mark.parametrize("importer, imported, line, _", IMPORTS)
def test_imports_point_down(importer, imported, line, _):
    (low, folder), (high, target) = _layer(importer), _layer(imported)
    if folder == target and low < TOP:
        return  # within one folder
    if low == TOP:
        assert imported != NAME, f"{importer}:{line} imports the package itself"
        return  # the top-level modules use every layer (no cycle: below)
    assert high < low, (
        f"{importer}:{line} imports {imported}: a layer that is not below its own"
    )


def test_package_modules_imported_at_module_level():
    lazy = [f"{a}:{line} imports {b}" for a, b, line, top in IMPORTS if not top]
    assert lazy == []


def test_no_import_cycle():
    graph = {}
    for a, b, _, _ in IMPORTS:
        graph.setdefault(a, set()).add(b)
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


@pytest.mark.parametrize(
    "objective", [LogisticObjective, DaskLogisticObjective, ArrayAPIObjective]
)
def test_objectives_offer_the_interface(objective):
    # Every method and attribute of the protocol, on each array world's class
    # (attributes set in __init__ are checked by the solvers' own tests).
    methods = [
        name
        for name, value in vars(Objective).items()
        if callable(value) and not name.startswith("_")
    ]
    missing = [name for name in methods if not callable(getattr(objective, name, None))]
    assert missing == []
