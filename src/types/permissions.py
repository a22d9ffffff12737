"""Discord's permission bits that StatsBot and its sandbox reason about: the one place they are written."""

from __future__ import annotations

CREATE_INSTANT_INVITE = 1 << 0
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
CONNECT = 1 << 20
SPEAK = 1 << 21
USE_VAD = 1 << 25
CHANGE_NICKNAME = 1 << 26
MANAGE_ROLES = 1 << 28
# Every bit Discord defines up to bit 52 (what an owner or administrator holds), as discord.py 2.7 knows them.
ALL_PERMISSIONS = (1 << 53) - 1
