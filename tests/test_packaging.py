"""What `pip install sessionlog` (not editable) installs."""

from __future__ import annotations

import importlib.resources
import pathlib
import tomllib

import pytest

ROOT = pathlib.Path(__file__).parent.parent


def test_every_package_directory_is_installed():
    """Every package directory (subpackages included) is one that setuptools' find
    configuration in pyproject.toml installs."""
    import setuptools

    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    installed = set(setuptools.find_packages(where=str(ROOT), include=find["include"]))
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("eventlog", "projections", "sessionlog")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= installed, f"not installed by [tool.setuptools.packages.find]: {sorted(found - installed)}"
    assert not {p for p in installed if p.split(".")[0] not in ("eventlog", "projections", "sessionlog")}


def test_the_test_extra_brings_the_postgres_driver_and_ci_runs_the_readme_command():
    """`pip install -e '.[test]' && pytest` installs psycopg, and .ci/run runs exactly that."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["postgres"] == ["psycopg[binary]>=3.2"]
    assert any(dep.startswith("sessionlog[") and "postgres" in dep for dep in extras["test"])
    readme = (ROOT / "README.md").read_text()
    command = "pip install -e '.[test]' && pytest"
    assert f"```bash\n{command}\n```" in readme
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in ci
    assert any("apt-get install" in line and "postgresql" in line for line in ci)


@pytest.mark.parametrize("package", ["eventlog", "projections", "sessionlog"])
def test_each_package_ships_py_typed(package):
    """PEP 561: the packages ship their annotations (mypy and ruff themselves run in .ci/run)."""
    assert importlib.resources.files(package).joinpath("py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["*"]


def test_codec_uses_no_private_json_encoder():
    source = (ROOT / "eventlog" / "codec.py").read_text()
    assert "c_make_encoder" not in source
