"""Fakes for the presence tests: a port that records presence updates and a settable stats view."""

from __future__ import annotations

from tests.fakes import Call, FakeDiscord, FakeStats, MemoryStore, PresenceCall, make_settings

__all__ = ["Call", "FakeDiscord", "FakeStats", "MemoryStore", "PresenceCall", "make_settings"]
