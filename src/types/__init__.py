"""Data models and the Protocols services depend on."""
