"""The packages are typed and lint-clean: mypy and ruff pass, py.typed ships."""

from __future__ import annotations

import importlib.resources
import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).parent.parent


def _tool(module: str) -> list[str]:
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    return [sys.executable, "-m", module]


@pytest.mark.parametrize("package", ["eventlog", "projections", "sessionlog"])
def test_each_package_ships_py_typed(package):
    assert importlib.resources.files(package).joinpath("py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["*"]


def test_mypy_is_clean():
    """The built-in projections satisfy the Projection protocol, among the rest."""
    result = subprocess.run(_tool("mypy"), cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean():
    result = subprocess.run([*_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_codec_uses_no_private_json_encoder():
    source = (ROOT / "eventlog" / "codec.py").read_text()
    assert "c_make_encoder" not in source
