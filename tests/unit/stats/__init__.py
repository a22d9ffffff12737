"""Tests for the stats service."""
