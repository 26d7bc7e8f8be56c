"""No private name of another package anywhere in ``src/`` (issue 9).

mlflow-skinny 3.18 renamed ``mlflow.utils.validation._validate_model_alias_name`` and every
fresh install of Glashaus broke. A package's underscore names may change in any release,
so ``src/`` never imports or touches one: no ``from x import _y``, no ``import x._y``, no
``x._y`` on anything that came from a third-party package (followed through simple
assignments, ``importlib.import_module`` and helpers returning it, here or in another
module of ours), no ``getattr(x, "_y")``, no monkeypatching. Stdlib modules and Glashaus's
own names are not third-party. Dunders (``__version__``) are public.

The check is static (``ast``), so it follows only what it can see; the snippet tests
below pin each form it must catch, the known offenders of issue 9 among them.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "glashaus"

# Modules allowed to reach a private name because the library has no public form for it.
# None today; if one is ever needed it goes into src/glashaus/compat/<package>.py, alone.
COMPAT: frozenset[str] = frozenset()

_ATTRIBUTE_CALLS = {"getattr", "setattr", "hasattr", "delattr"}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_third_party(module: str) -> bool:
    top = module.split(".")[0]
    return bool(top) and top != "glashaus" and top not in sys.stdlib_module_names


def _names(target: ast.expr) -> Iterator[str]:
    """The plain names a binding target binds (``a``, ``a, b``, ``*rest``); attributes are not followed."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for item in target.elts:
            yield from _names(item)
    elif isinstance(target, ast.Starred):
        yield from _names(target.value)


def _params(args: ast.arguments) -> set[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {a.arg for a in every if a is not None}


def _scope_nodes(body: list[ast.AST]) -> Iterator[ast.AST]:
    """Every node of one scope; a nested function's or lambda's body is a scope of its own."""
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            # Decorators, defaults and annotations are evaluated in the enclosing scope.
            outer = [
                *getattr(node, "decorator_list", []),
                *node.args.defaults,
                *(d for d in node.args.kw_defaults if d is not None),
            ]
            stack.extend(reversed(outer))
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


class ModuleScan:
    """One module's private-name uses, given what the other modules of ours export.

    ``helpers`` maps each of our modules to its functions that return a third-party
    object (``def validation(): return importlib.import_module("mlflow.utils.validation")``).
    """

    def __init__(self, tree: ast.Module, *, name: str, is_package: bool, helpers: dict[str, set[str]]) -> None:
        self.tree, self.name, self.is_package, self.known = tree, name, is_package, helpers
        self.helpers: set[str] = set()  # this module's functions returning third-party objects
        self.imported_helpers: set[str] = set()  # such functions imported from our other modules
        self.our_modules: dict[str, str] = {}  # local name -> our module it names
        self.importers: set[str] = {"__import__"}  # names bound to importlib.import_module
        self.importlib: set[str] = set()  # names bound to the importlib module
        self.findings: list[tuple[int, str]] = []

    # -- what a name or an expression stands for -------------------------------------------

    def _absolute(self, node: ast.ImportFrom) -> str:
        if node.level == 0:
            return node.module or ""
        parts = self.name.split(".") if self.is_package else self.name.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))

    def _is_importer(self, func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.importers
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "import_module"
            and isinstance(func.value, ast.Name)
            and func.value.id in self.importlib
        )

    def _is_helper(self, func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.helpers or func.id in self.imported_helpers
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            module = self.our_modules.get(func.value.id)
            return module is not None and func.attr in self.known.get(module, set())
        return False

    def foreign(self, expr: ast.expr | None, env: set[str]) -> bool:
        """Whether ``expr`` evaluates to a third-party module or an object reached from one."""
        match expr:
            case ast.Name(id=name):
                return name in env
            case (
                ast.Attribute(value=value)
                | ast.Subscript(value=value)
                | ast.Await(value=value)
                | ast.Starred(value=value)
                | ast.NamedExpr(value=value)
            ):
                return self.foreign(value, env)
            case ast.Call(func=func, args=args):
                if self._is_importer(func):
                    first = args[0] if args else None
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        return is_third_party(first.value)
                    return True  # a module named at run time: assume the worst
                return self.foreign(func, env) or self._is_helper(func)
            case ast.IfExp(body=body, orelse=orelse):
                return self.foreign(body, env) or self.foreign(orelse, env)
            case ast.BoolOp(values=values):
                return any(self.foreign(v, env) for v in values)
        return False

    def _bound(self, node: ast.AST, env: set[str]) -> Iterator[str]:
        """Names ``node`` binds to third-party objects (and, on the way, our modules and helpers)."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if alias.name == "importlib":
                    self.importlib.add(alias.asname or "importlib")
                elif top == "glashaus" and alias.asname:
                    self.our_modules[alias.asname] = alias.name
                elif is_third_party(alias.name):
                    yield alias.asname or top
        elif isinstance(node, ast.ImportFrom):
            module = self._absolute(node)
            for alias in node.names:
                bound = alias.asname or alias.name
                if module == "importlib" and alias.name == "import_module":
                    self.importers.add(bound)
                elif module.split(".")[0] == "glashaus":
                    if f"{module}.{alias.name}" in self.known:
                        self.our_modules[bound] = f"{module}.{alias.name}"
                    elif alias.name in self.known.get(module, set()):
                        self.imported_helpers.add(bound)
                elif is_third_party(module):
                    yield bound
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                yield from self._pairs(target, node.value, env)
        elif (
            isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None and self.foreign(node.value, env)
        ) or (isinstance(node, ast.For | ast.AsyncFor | ast.comprehension) and self.foreign(node.iter, env)):
            yield from _names(node.target)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None and self.foreign(node.context_expr, env):
            yield from _names(node.optional_vars)

    def _pairs(self, target: ast.expr, value: ast.expr, env: set[str]) -> Iterator[str]:
        """``a, b = x, y`` binds element by element; any other shape binds all its names to the value."""
        if (
            isinstance(target, ast.Tuple | ast.List)
            and isinstance(value, ast.Tuple | ast.List)
            and len(target.elts) == len(value.elts)
        ):
            for t, v in zip(target.elts, value.elts, strict=True):
                yield from self._pairs(t, v, env)
        elif self.foreign(value, env):
            yield from _names(target)

    # -- the checks ----------------------------------------------------------------------------

    def _flag(self, node: ast.AST, why: str) -> None:
        self.findings.append((getattr(node, "lineno", 0), f"{why}: {ast.unparse(node)[:120]}"))

    def _check(self, node: ast.AST, env: set[str]) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_third_party(alias.name) and any(is_private(p) for p in alias.name.split(".")):
                    self._flag(node, "imports a private module")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and is_third_party(node.module or ""):
            if any(is_private(p) for p in (node.module or "").split(".")):
                self._flag(node, "imports from a private module")
            elif any(is_private(a.name) for a in node.names):
                self._flag(node, "imports a private name")
        elif isinstance(node, ast.Attribute) and is_private(node.attr) and self.foreign(node.value, env):
            self._flag(node, "reaches a private attribute")
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            literal = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) else None
            if (
                name in _ATTRIBUTE_CALLS
                and isinstance(literal, str)
                and is_private(literal)
                and self.foreign(node.args[0], env)
            ):
                self._flag(node, f"reaches a private attribute by {name}()")
            first = node.args[0] if node.args else None
            if (
                self._is_importer(node.func)
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and is_third_party(first.value)
                and any(is_private(p) for p in first.value.split("."))
            ):
                self._flag(node, "imports a private module")

    # -- scopes ------------------------------------------------------------------------------

    def _scope(self, body: list[ast.AST], *, outer: set[str], params: set[str], name: str | None) -> None:
        nodes = list(_scope_nodes(body))
        env = set(outer) - params
        grew = True
        while grew:  # a = mlflow.x; b = a.y; ... in any order
            before = len(env)
            for node in nodes:
                env.update(self._bound(node, env))
            grew = len(env) > before
        if name is not None and any(isinstance(n, ast.Return) and self.foreign(n.value, env) for n in nodes):
            self.helpers.add(name)
        for node in nodes:
            self._check(node, env)
        top = {id(n) for n in self.tree.body}
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self._scope(
                    node.body, outer=env, params=_params(node.args), name=node.name if id(node) in top else None
                )
            elif isinstance(node, ast.Lambda):
                self._scope([node.body], outer=env, params=_params(node.args), name=None)

    def run(self) -> ModuleScan:
        for _ in range(10):  # helpers found late (a helper calling a helper) change what is foreign
            before = set(self.helpers)
            self.findings = []
            self._scope(self.tree.body, outer=set(), params=set(), name=None)
            if self.helpers == before:
                break
        return self


def scan(modules: dict[str, str]) -> dict[str, list[tuple[int, str]]]:
    """Findings per module for ``{"glashaus.x.y": source}``; module names ending in ``.__init__`` are packages."""
    trees = {
        name.removesuffix(".__init__"): (ast.parse(src), name.endswith(".__init__")) for name, src in modules.items()
    }
    helpers: dict[str, set[str]] = {name: set() for name in trees}
    for _ in range(10):  # helpers may call helpers of other modules
        scans = {
            name: ModuleScan(tree, name=name, is_package=pkg, helpers=helpers).run()
            for name, (tree, pkg) in trees.items()
        }
        found = {name: s.helpers for name, s in scans.items()}
        if found == helpers:
            break
        helpers = found
    return {name: s.findings for name, s in scans.items() if s.findings}


def findings(source: str) -> list[str]:
    return [why for _, why in scan({"glashaus.snippet": source}).get("glashaus.snippet", [])]


# -- the source tree -------------------------------------------------------------------------------


def _source_modules() -> dict[str, str]:
    modules = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        modules[".".join(rel.parts)] = path.read_text()
    return modules


def test_src_reaches_no_private_name_of_another_package():
    wrong = [
        f"src/{name.replace('.', '/')}.py:{line}: {why}"
        for name, found in scan(_source_modules()).items()
        if f"{name.removeprefix('glashaus.').replace('.', '/')}.py" not in COMPAT
        for line, why in found
    ]
    assert not wrong, "\n".join(wrong)


# -- what the check catches ------------------------------------------------------------------------

CAUGHT = {
    "from-import": "from mlflow.utils.validation import _validate_model_alias_name\n",
    "from-import in a function": """
def check_alias(alias):
    from mlflow.utils.validation import _validate_model_alias_name, _validate_model_alias_name_reserved
    _validate_model_alias_name(alias)
""",
    "from a private module": "from mlflow._internal import thing\n",
    "import of a private module": "import mlflow.utils._validation\n",
    "dotted access": "import mlflow.utils.validation\nmlflow.utils.validation._validate_metric('m', 1, 0, 0)\n",
    "module alias": "from mlflow.utils import validation as v\nv._validate_param('k', 'v')\n",
    "helper returning import_module (issue 9's tracking/rules.py)": """
import importlib

def _module(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        raise RuntimeError(name) from None

def validation():
    return _module("mlflow.utils.validation")

def check_metric(key, value, timestamp, step, *, path=""):
    validation()._validate_metric(key, value, timestamp, step, path=path)
""",
    "helper called inline (random run names)": """
import importlib
def _module(name):
    return importlib.import_module(name)
def random_run_name():
    return _module("mlflow.utils.name_utils")._generate_random_name()
""",
    "import_module result": "import importlib\nimportlib.import_module('mlflow.store.artifact.utils.models')._parse_model_uri('x')\n",
    "import_module imported by name": "from importlib import import_module\nimport_module('mlflow.utils')._x\n",
    "import_module of a private module": "import importlib\nimportlib.import_module('mlflow.utils._x')\n",
    "monkeypatch through assignments (issue 9's sql/grants.py)": """
import sqlglot

def read(sql):
    dialect = sqlglot.Dialect.get_or_raise("duckdb")
    parser = dialect.parser()
    parser._warn_unsupported = lambda: None
    return parser.parse(dialect.tokenize(sql), sql)
""",
    "getattr with a private name": "import sqlglot\nwarn = getattr(sqlglot.Parser, '_warn_unsupported')\n",
    "setattr with a private name": "import sqlglot\np = sqlglot.Parser()\nsetattr(p, '_warn_unsupported', print)\n",
    "walrus": "import sqlglot\nif (p := sqlglot.Parser()):\n    p._tokens\n",
    "with and for": "import mlflow\nwith mlflow.start_run() as run:\n    run._info\nfor m in mlflow.search_runs():\n    m._x\n",
    "tuple unpacking": "import sqlglot\na, b = 1, sqlglot.parse('x')\nb._x\n",
    "lambda body": "import mlflow\nf = lambda: mlflow.utils._x\n",
    "decorator": "import functools, mlflow\n@mlflow.utils._wrap\ndef f(): pass\n",
    "name-mangled private": "import mlflow\nmlflow.__secret\n",
}


@pytest.mark.parametrize("form", sorted(CAUGHT))
def test_each_private_form_is_caught(form):
    assert findings(CAUGHT[form]), f"not caught: {form}"


def test_a_helper_in_another_module_of_ours_is_followed():
    modules = {
        "glashaus.registry.mlflow_lib": "def mlflow():\n    import mlflow as module\n    return module\n",
        "glashaus.tracking.rules": (
            "import importlib\ndef _module(n):\n    return importlib.import_module(n)\n"
            "def validation():\n    return _module('mlflow.utils.validation')\n"
        ),
        "glashaus.registry.refs": (
            "from glashaus.registry.mlflow_lib import mlflow\n"
            "def check(a):\n    return mlflow().utils.validation._validate_alias_name(a)\n"
        ),
        "glashaus.registry.service": (
            "from glashaus.tracking import rules\ndef f():\n    rules.validation()._validate_metric('m', 1, 0, 0)\n"
        ),
        "glashaus.registry.__init__": "from . import refs\n",
    }
    found = scan(modules)
    assert set(found) == {"glashaus.registry.refs", "glashaus.registry.service"}, found


NOT_CAUGHT = {
    "our own private names": "class A:\n    def f(self):\n        return self._x\nA()._y\n",
    "our own modules": "from glashaus.server import wire\nfrom glashaus.x import _y\nwire._members(int)\n",
    "stdlib": "import os, sys\nos._exit\nsys._getframe()\nfrom collections import _x\n",
    "dunders": "import mlflow\nmlflow.__version__\nmlflow.pyfunc.__name__\n",
    "public names": "import sqlglot\nfrom sqlglot import exp\nexp.Grant\nsqlglot.Dialect.get_or_raise('duckdb').parser()\n",
    "a parameter shadowing a third-party name": "import mlflow\ndef f(mlflow):\n    return mlflow._own\n",
    "the other name of a tuple": "import sqlglot\na, b = sqlglot.parse('x'), object()\nb._x\n",
    "getattr with a run-time name": "import importlib\ndef f(m, a):\n    return getattr(importlib.import_module(m), a)\n",
    "overriding is not reaching": "from mlflow.store.tracking.abstract_store import AbstractStore\n"
    "class S(AbstractStore):\n    def _search_runs(self):\n        return self._svc\n",
    "import_module of our own module": "import importlib\nimportlib.import_module('glashaus.server.wire')._members\n",
}


@pytest.mark.parametrize("form", sorted(NOT_CAUGHT))
def test_public_and_own_names_are_not_flagged(form):
    assert findings(NOT_CAUGHT[form]) == []
