"""eventlog.backends."""
