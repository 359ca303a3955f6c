"""The `sessionlog` command line (`main`); see `app.py` for its commands."""

from .app import main

__all__ = ["main"]
