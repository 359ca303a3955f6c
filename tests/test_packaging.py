"""What `pip install sessionlog` (not editable) installs."""

from __future__ import annotations

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).parent.parent


def test_every_package_directory_is_installed():
    """setuptools installs only the packages listed, not their subpackages."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("eventlog", "projections", "sessionlog")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"


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
