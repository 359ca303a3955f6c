"""The conversation viewer (`sessionlog serve`, `sessionlog show --html`):
read-only pages over a store. Needs the extra `sessionlog[web]`; it sits
beside the CLI, and the library never imports it."""

from .app import create_app
from .pages import standalone_html

__all__ = ["create_app", "standalone_html"]
