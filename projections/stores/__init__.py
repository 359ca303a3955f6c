"""projections.stores."""
