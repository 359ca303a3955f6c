"""The sessionlog command line."""
