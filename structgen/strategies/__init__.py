"""Training strategies registered by structgen's built-in plugin."""
