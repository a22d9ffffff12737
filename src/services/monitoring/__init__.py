"""The monitoring service."""
