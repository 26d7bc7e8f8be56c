"""The layering rules of docs/architecture.md, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "glashaus"

# Lower numbers sit lower; a module may import its own layer or lower ones only.
LAYERS = {
    "errors": 0,
    "frames": 0,
    "mlflow_checks": 0,
    # How an operation is declared (every capability declares its own with it).
    "declare": 0,
    "catalog": 1,
    "metastore": 1,
    "storage": 2,
    "access": 3,
    "lineage": 4,
    "tables": 5,
    "sql": 6,
    "tracking": 6,
    "registry": 6,
    "serving": 6,
    "lakehouse": 7,
    # Every declared operation, bound to its facade method; the generated protocols of the API.
    "operations": 7,
    "api": 7,
    # The package's face (re-exports) and connect(), above both the embedded and the served lakehouse.
    "__init__": 10,
    "entry": 10,
    # The request layer every HTTP face shares (request ids, limits, sign-in, error mapping).
    "http": 8,
    "cli": 9,
    "server": 9,
    "web": 9,
    "integrations": 9,
    # The plant shop behind `glashaus demo`: it starts an in-process server, and cli/demo.py runs it.
    "examples": 9,
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _layer(module: str) -> str:
    part = module.split(".")[1] if module.count(".") else "__init__"
    return part.removesuffix(".py")


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "metastore" and "migrations" in rel.parts:
            continue
        yield rel.parts[0].removesuffix(".py"), path


def test_every_module_belongs_to_a_known_layer():
    unknown = {top for top, _ in _modules()} - set(LAYERS)
    assert not unknown, f"add {unknown} to LAYERS here and to docs/architecture.md"


# No upward import: connect() (entry.py) sits above both the embedded lakehouse and the server's client.
UPWARD_ALLOWED: set[tuple[str, str]] = set()


def test_lower_layers_never_import_higher_ones():
    wrong = []
    for top, path in _modules():
        for module in _imports(path):
            if (str(path.relative_to(SRC)), module) in UPWARD_ALLOWED:
                continue
            if module.startswith("glashaus."):
                target = _layer(module)
                if LAYERS.get(target, 0) > LAYERS[top]:
                    wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert not wrong, wrong


# Faces side by side: ``web`` never imports ``server``; in ``server`` only the app that assembles
# the faces imports ``web``. What both need is in ``http`` (level 8).
FACE_IMPORTS_ALLOWED = {("server", "web"): {"server/app.py"}}


def test_server_and_web_do_not_import_each_other():
    wrong = []
    for top, path in _modules():
        for module in _imports(path):
            target = _layer(module) if module.startswith("glashaus.") else None
            faces = top in ("server", "web") and target in ("server", "web") and target != top
            if faces and str(path.relative_to(SRC)) not in FACE_IMPORTS_ALLOWED.get((top, target), set()):
                wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert not wrong, wrong


def test_the_face_rule_catches_a_web_module_importing_the_server(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "page.py").write_text("from glashaus.server import wire\n")
    global SRC
    SRC, saved = tmp_path, SRC
    try:
        try:
            test_server_and_web_do_not_import_each_other()
        except AssertionError as exc:
            assert "web/page.py imports glashaus.server" in str(exc)
        else:
            raise AssertionError("the rule let web/page.py import glashaus.server")
    finally:
        SRC = saved


def test_only_storage_talks_to_deltalake_and_only_governed_layers_reach_storage():
    wrong = []
    for top, path in _modules():
        for module in _imports(path):
            if module.split(".")[0] == "deltalake" and top != "storage":
                wrong.append(f"{path.relative_to(SRC)} imports deltalake")
            if module.startswith("glashaus.storage") and top not in ("storage", "access", "tables", "lakehouse"):
                wrong.append(f"{path.relative_to(SRC)} reaches storage directly")
    assert not wrong, wrong
