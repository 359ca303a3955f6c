"""projections.erasure."""
