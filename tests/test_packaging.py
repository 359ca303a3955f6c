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
