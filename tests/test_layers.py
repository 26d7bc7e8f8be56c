"""The layering rules of docs/architecture.md, checked on the source itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "glashaus"

DOC = SRC.parents[1] / "docs" / "architecture.md"

# A line of the layer block: two spaces, the package (``name/``) or module (``name.py``), its level.
_LAYER_LINE = re.compile(r"^  (\w+)(?:/|\.py)\s+(\d+)\s")
# A row of the same-level table: | importer | imports | why |
_SAME_LEVEL_ROW = re.compile(r"^\| (\w+) \| (\w+) \| .+\|$")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    return text[start : text.find("\n## ", start + 1)]


def _doc_layers() -> dict[str, int]:
    """Lower numbers sit lower; a module may import its own layer or lower ones only."""
    lines = _section(DOC.read_text(), "## Layers").splitlines()
    found = {m[1]: int(m[2]) for line in lines if (m := _LAYER_LINE.match(line))}
    assert found, f"no layer block found in {DOC}"
    return found


def _doc_same_level() -> set[tuple[str, str]]:
    lines = _section(DOC.read_text(), "## Layers").splitlines()
    return {(m[1], m[2]) for line in lines if (m := _SAME_LEVEL_ROW.match(line)) and m[1] != "importer"}


LAYERS = _doc_layers()


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


def _modules(src: Path | None = None):
    src = src or SRC
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if rel.parts[0] == "metastore" and "migrations" in rel.parts:
            continue
        yield rel.parts[0].removesuffix(".py"), path


def test_every_module_belongs_to_a_known_layer():
    unknown = {top for top, _ in _modules()} - set(LAYERS)
    assert not unknown, f"add {sorted(unknown)} to the layer block of docs/architecture.md"


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


def test_the_face_rule_catches_a_web_module_importing_the_server(tmp_path, monkeypatch):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "page.py").write_text("from glashaus.server import wire\n")
    monkeypatch.setitem(globals(), "SRC", tmp_path)  # the rule above walks SRC: point it at the bad tree
    with pytest.raises(AssertionError, match=r"web/page.py imports glashaus.server"):
        test_server_and_web_do_not_import_each_other()


def test_only_storage_talks_to_deltalake_and_only_governed_layers_reach_storage():
    wrong = []
    for top, path in _modules():
        for module in _imports(path):
            if module.split(".")[0] == "deltalake" and top != "storage":
                wrong.append(f"{path.relative_to(SRC)} imports deltalake")
            if module.startswith("glashaus.storage") and top not in ("storage", "access", "tables", "lakehouse"):
                wrong.append(f"{path.relative_to(SRC)} reaches storage directly")
    assert not wrong, wrong


def _same_level_imports(src: Path) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for top, path in _modules(src):
        for module in _imports(path):
            if not module.startswith("glashaus."):
                continue
            target = _layer(module)
            if target != top and target in LAYERS and LAYERS[target] == LAYERS[top]:
                found.setdefault((top, target), []).append(str(path.relative_to(src)))
    return found


def _same_level_problems(src: Path, allowed: set[tuple[str, str]]) -> list[str]:
    used = _same_level_imports(src)
    problems = [
        f"{', '.join(sorted(set(paths)))} imports {target} (same level as {top}): move the code, or add "
        f"'| {top} | {target} | why |' to the same-level table in docs/architecture.md"
        for (top, target), paths in sorted(used.items())
        if (top, target) not in allowed
    ]
    problems += [
        f"docs/architecture.md allows {top} to import {target}, but nothing does: remove the row"
        for top, target in sorted(allowed - set(used))
    ]
    return problems


def test_same_level_imports_follow_the_table_in_the_architecture_page():
    problems = _same_level_problems(SRC, _doc_same_level())
    assert not problems, problems


def test_the_same_level_rule_catches_an_unlisted_import_and_a_stale_row(tmp_path):
    (tmp_path / "tracking").mkdir()
    (tmp_path / "tracking" / "runs.py").write_text("from glashaus.registry import versions\n")
    problems = _same_level_problems(tmp_path, {("serving", "registry")})
    assert any("tracking/runs.py imports registry" in p for p in problems), problems
    assert any("allows serving to import registry, but nothing does" in p for p in problems), problems


def test_the_layer_block_is_read_from_the_architecture_page():
    assert LAYERS["errors"] == 0 and LAYERS["tables"] == 5 and LAYERS["lakehouse"] == 7
    assert ("server", "web") in _doc_same_level()
