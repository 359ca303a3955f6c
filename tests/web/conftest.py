"""The viewer's fixtures; what they use, and what the tests import, is in
webrun.py (a module of its own: `from conftest import ...` would find the
top-level tests/conftest.py when the whole suite runs)."""

from webrun import browser, page, site  # noqa: F401  (fixtures, registered by being here)
