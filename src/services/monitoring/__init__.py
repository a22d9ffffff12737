"""Monitoring: process metrics, the heartbeat status message, alerts and start/stop notices."""
