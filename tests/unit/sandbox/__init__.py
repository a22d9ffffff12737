"""Tests of the Discord emulator."""
