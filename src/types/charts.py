"""What a chart shows, as plain data: built by the stats service, drawn by the chart renderer.

A `ChartSpec` crosses a process boundary (the renderer draws in a short-lived worker process, so matplotlib
never stays in the bot's memory), hence pydantic models that serialise to JSON and back unchanged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class PanelKind(StrEnum):
    """How a panel draws its series."""

    LINE = "line"  # values over time (`Panel.times`)
    BARS = "bars"  # values per category (`Panel.labels`), series side by side


class Tone(StrEnum):
    """A series' colour by meaning: one palette for every chart, readable in dark and light themes."""

    PRIMARY = "primary"  # the value itself (members, online, ...)
    MUTED = "muted"  # a comparison (the week before)
    GAIN = "gain"  # joins
    LOSS = "loss"  # leaves, bans


class Series(BaseModel):
    """One named row of values; None leaves a gap (no sample)."""

    model_config = ConfigDict(frozen=True)

    label: str
    values: list[float | None]
    tone: Tone = Tone.PRIMARY
    dashed: bool = False


class Panel(BaseModel):
    """One plot of a chart: a line over time or bars per category."""

    model_config = ConfigDict(frozen=True)

    kind: PanelKind
    title: str
    series: list[Series]
    times: list[datetime] = Field(default_factory=list)  # LINE: aware datetimes in the chart's time zone
    labels: list[str] = Field(default_factory=list)  # BARS: one label per value
    y_label: str = ""


class ChartSpec(BaseModel):
    """A whole chart: a title that says what and when, its panels top to bottom, and its alt text."""

    model_config = ConfigDict(frozen=True)

    title: str
    subtitle: str = ""  # e.g. "1 Nov to 30 Nov 2026, America/New_York"
    panels: list[Panel]
    alt_text: str  # the numbers the chart shows, in words: the embed's description and the file's description
    width_px: int = 1000
    height_px: int = 0  # 0: 420 per panel
