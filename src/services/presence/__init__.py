"""Presence: the bot's rotating Watching text and status, kept within Discord's 5-per-20 s limit."""
