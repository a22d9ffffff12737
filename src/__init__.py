"""StatsBot: a self-hosted statistics bot for one Discord community."""

__version__ = "0.1.0"
