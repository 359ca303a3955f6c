"""Adapters that put sessionlog in an agent framework's session-store slot.

Each lives in its own module behind an optional extra (`pip install
'sessionlog[openai-agents]'`), so importing this package needs none of them.
"""
