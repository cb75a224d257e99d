"""Inference algorithms registered by structgen's built-in plugin."""
