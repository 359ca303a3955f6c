"""projections.views."""
