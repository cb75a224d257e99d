"""Metrics registered by structgen's built-in plugin."""
