"""What `pip install 'sessionlog[web]'` (not editable) needs: the viewer's
templates and static files are package data."""

from __future__ import annotations

import fnmatch
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).parent.parent.parent
WEB = ROOT / "sessionlog" / "web"


def test_every_template_and_static_file_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"].get("sessionlog.web", [])
    files = [p.relative_to(WEB).as_posix() for folder in ("templates", "static")
             for p in (WEB / folder).rglob("*") if p.is_file()]
    assert files
    assert [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []


def test_no_asset_comes_from_another_origin():
    """No CDN: no template or static file names another origin."""
    for p in list((WEB / "templates").glob("*.html")) + list((WEB / "static").glob("*")):
        text = p.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, p
