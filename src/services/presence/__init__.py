"""The presence service."""
