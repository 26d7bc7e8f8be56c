"""The built wheel, as ``pip install glashaus`` gets it: what it holds, and that ``glashaus demo`` runs from it.

``test_quickstart.py`` installs the checkout in editable mode, where files the wheel
leaves out are still found beside the source; only a wheel installed into a venv of its
own, run in an empty folder, shows that the demo ships in the package (it once lived in
``examples/`` beside ``src/`` and needed a source checkout).

The wheel is built from a copy of the sources in a temp folder: an in-tree build would
leave ``build/`` and ``*.egg-info`` in the checkout, and a stale ``build/lib`` can carry
deleted files into the wheel, hiding the very thing checked here. Building fetches
setuptools and installing fetches the ``demo`` extra from the package index, hence
``network``. The install takes its versions from the lock, as the README's commands do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.venvs import REPO, create, pip_install

SRC = REPO / "src" / "glashaus"

pytestmark = pytest.mark.network


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would point Python at the checkout or the test's own settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV") and not k.startswith("GLASHAUS_")
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory) -> Path:
    """The Python of a fresh venv outside the source tree (its pip builds and installs the wheel)."""
    return create(tmp_path_factory.mktemp("wheel-venv") / "venv") / "python"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, venv_python) -> Path:
    """The wheel of the current sources (``pip wheel --no-deps``), built from a clean copy."""
    base = tmp_path_factory.mktemp("wheel-build")
    source, dist = base / "source", base / "dist"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    built = subprocess.run(
        [str(venv_python), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        env=_clean_env(),
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = dist.glob("glashaus-*.whl")
    return found


def test_the_wheel_holds_every_source_file_and_nothing_beside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    # every module and data file under src/glashaus (the demo, the migrations' template,
    # the web shell's templates and styles) is read at run time by someone
    wanted = {
        f"glashaus/{p.relative_to(SRC).as_posix()}"
        for p in SRC.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert wanted - names == set()
    assert {
        "glashaus/examples/plant_shop/pipeline.py",
        "glashaus/examples/plant_shop/data.py",
        "glashaus/examples/plant_shop/ml.py",
        "glashaus/metastore/migrations/script.py.mako",
        "glashaus/web/templates/base.html",
        "glashaus/web/static/style.css",
        "glashaus/py.typed",
    } <= names  # PEP 561: type checkers read the package's own annotations
    assert any(re.fullmatch(r"glashaus/metastore/migrations/versions/\w+\.py", n) for n in names)
    # no second top-level package (an `examples` package would clash in site-packages)
    assert {n.split("/")[0] for n in names} == {"glashaus", wheel.name.split("-py")[0] + ".dist-info"}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # pip installs mlflow, scikit-learn, pandas, ... (minutes without a warm cache)
def test_glashaus_demo_runs_from_the_installed_wheel_in_an_empty_folder(wheel, venv_python, tmp_path):
    pip_install(venv_python.parent, f"{wheel}[demo]", env=_clean_env())
    work = tmp_path / "work"
    work.mkdir()
    env = _clean_env(COLUMNS="200")
    # what the venv imports: the package, the CLI and the demo all from the venv, none from the checkout
    probe = subprocess.run(
        [
            str(venv_python),
            "-c",
            (
                "import json, sys, glashaus.cli.main, glashaus.examples.plant_shop.ml, glashaus.examples.plant_shop.pipeline\n"
                "print(json.dumps({'files': {n: getattr(m, '__file__', None) for n, m in sys.modules.items()"
                " if n.startswith('glashaus')}, 'path': sys.path}))"
            ),
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    imported = json.loads(probe.stdout)
    venv = venv_python.parent.parent.resolve()
    assert "glashaus.examples.plant_shop.ml" in imported["files"]
    outside = {n: f for n, f in imported["files"].items() if f and not Path(f).resolve().is_relative_to(venv)}
    assert outside == {}
    assert not [p for p in imported["path"] if p and Path(p).resolve().is_relative_to(REPO)]

    demo = subprocess.run(
        [str(venv_python.parent / "glashaus"), "demo", "--events", "20000"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert demo.returncode == 0, (demo.stdout[-3000:], demo.stderr[-3000:])
    said = " ".join(demo.stdout.split())  # rich wraps long lines at the terminal's width
    assert "Building the plant shop in" in said and "20,000 events" in said
    assert "main.plant_shop.events_bronze@v1" in said  # the lineage trees down to bronze
    assert "denied: ana reads events_bronze -> " in said
    assert re.search(r"audit: \d+ allowed and [1-9]\d* denied decisions", said)  # the governance part
    assert "ml: skipped" not in said  # the demo extra brings everything the recommender needs
    assert "registered main.plant_shop.recommender v1 (@champion)" in said
    assert "model: main.plant_shop.recommender v1 @champion" in said
    assert re.search(r"served 200 requests .*; 200 rows in main\.plant_shop\.recommender_inference", said)
    assert "Done in" in said
    assert (work / "lakehouse").is_dir()
