"""Fixtures: the stores the contract suite runs against."""

from __future__ import annotations

import pytest
from helpers import STORES, make_store


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    """Each SessionStore implementation, fresh."""
    s = make_store(request.param, tmp_path)
    yield s
    if hasattr(s, "close"):
        s.close()
