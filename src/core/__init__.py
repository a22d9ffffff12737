"""Composition root: configuration, exceptions and the thin Discord client."""
