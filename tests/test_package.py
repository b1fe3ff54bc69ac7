"""The package as installed: one version string, and a clear error where the compiled loop is missing."""

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import skgd


def test_version_is_the_installed_metadatas():
    try:
        installed = importlib.metadata.version("skgd")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("skgd is built in place, not installed: no metadata to compare with")
    assert skgd.__version__ == installed


def test_a_source_folder_without_the_extension_says_what_to_do(tmp_path):
    # A clean clone's root: skgd's Python files and no compiled skgd._sgd_fast.
    source = tmp_path / "skgd"
    source.mkdir()
    for module in Path(skgd.__file__).parent.glob("*.py"):
        shutil.copy(module, source)
    # -S: no site-packages, so no installed (or editable) skgd either; the folder is found first.
    run = subprocess.run([sys.executable, "-S", "-c", "import skgd"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1
    message = run.stderr.strip().splitlines()[-3:]
    assert message[0] == f"ImportError: skgd's compiled extension skgd._sgd_fast is not in {source}."
    assert "run Python from another folder" in message[1] and "`pip install -e .`" in message[1]
    assert "ModuleNotFoundError: No module named 'skgd._sgd_fast'" in run.stderr  # the cause, chained
