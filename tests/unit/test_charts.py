"""Tests for src.utils.charts and the chart worker: what a chart shows, and that drawing stays out of the bot.

Reference images live in tests/unit/chart_references/. After a deliberate change of the look, rewrite them
with `UPDATE_CHART_REFERENCES=1 .venv/bin/python -m pytest tests/unit/test_charts.py -k reference`, then
look at each before committing.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from matplotlib.testing.compare import compare_images
from PIL import Image

from src.types.charts import ChartSpec, Panel, PanelKind, Series, Tone
from src.utils import chart_worker
from src.utils.charts import (
    IMPORT_ROOT,
    PANEL_HEIGHT_PX,
    TONE_COLOURS,
    ChartRenderError,
    ChartSpecError,
    ProcessChartRenderer,
    draw_figure,
    format_count,
    render_png,
    time_ticks,
)

REFERENCES = Path(__file__).parent / "chart_references"
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
KOLKATA = ZoneInfo("Asia/Kolkata")
MINUS = "\N{MINUS SIGN}"

# --- specs --------------------------------------------------------------------------------------------------


def day_spec() -> ChartSpec:
    """Online members every 15 minutes on one day, with a hole in the samples and last week's line."""
    start = datetime(2026, 11, 21, tzinfo=NEW_YORK)
    times = [start + timedelta(minutes=15 * i) for i in range(96)]
    online: list[float | None] = [
        float(round(1200 + 800 * math.sin((i - 30) / 96 * 2 * math.pi) + (i % 7) * 13)) for i in range(96)
    ]
    online[40:46] = [None] * 6
    week_before: list[float | None] = [round(v * 0.93) if v is not None else 1000.0 for v in online]
    return ChartSpec(
        title="Online members, Saturday 21 Nov 2026",
        subtitle="Every 15 minutes, America/New_York",
        panels=[
            Panel(
                kind=PanelKind.LINE,
                title="Online",
                times=times,
                series=[
                    Series(label="Today", values=online),
                    Series(label="A week before", values=week_before, tone=Tone.MUTED, dashed=True),
                ],
            )
        ],
        alt_text="Online members on 21 Nov 2026: from 420 to 2,080.",
    )


def month_spec() -> ChartSpec:
    """Members per day over a month above joins and leaves per day: two stacked line panels."""
    start = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    times = [start + timedelta(days=i) for i in range(30)]
    return ChartSpec(
        title="Members, November 2026",
        subtitle="1 Nov to 30 Nov 2026, America/New_York",
        panels=[
            Panel(
                kind=PanelKind.LINE,
                title="Members",
                times=times,
                series=[Series(label="Members", values=[12000 + i * 37 + (i % 5) * 11 for i in range(30)])],
            ),
            Panel(
                kind=PanelKind.LINE,
                title="Joins and leaves per day",
                times=times,
                series=[
                    Series(label="Joins", values=[40 + (i * 7) % 23 for i in range(30)], tone=Tone.GAIN),
                    Series(label="Leaves", values=[10 + (i * 5) % 17 for i in range(30)], tone=Tone.LOSS),
                ],
            ),
        ],
        alt_text="Members grew from 12,000 to 13,117 in November 2026.",
    )


def bars_spec() -> ChartSpec:
    """Joins and leaves per weekday, side by side, with one missing value."""
    return ChartSpec(
        title="Joins and leaves by weekday, November 2026",
        subtitle="America/New_York",
        panels=[
            Panel(
                kind=PanelKind.BARS,
                title="Members per weekday",
                labels=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                series=[
                    Series(label="Joins", values=[1234, 980, 1500, 1100, 2210, 3020, 2800], tone=Tone.GAIN),
                    Series(label="Leaves", values=[300, 250, None, 410, 380, 520, 600], tone=Tone.LOSS),
                ],
            )
        ],
        alt_text="Most joins on Saturdays (3,020).",
    )


def line_spec(values: list[float | None], *, zone: ZoneInfo = NEW_YORK, hours: int = 1) -> ChartSpec:
    """One line panel, one sample every `hours` from midnight on 21 Nov 2026 in `zone`."""
    start = datetime(2026, 11, 21, tzinfo=zone)
    return ChartSpec(
        title="Test",
        panels=[
            Panel(
                kind=PanelKind.LINE,
                title="Values",
                times=[start + timedelta(hours=hours * i) for i in range(len(values))],
                series=[Series(label="Values", values=values)],
            )
        ],
        alt_text="test",
    )


# --- decoding helpers ---------------------------------------------------------------------------------------


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (which always comes first)."""
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_chunk_types(png: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order."""
    types, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        types.append(png[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def pixels(png: bytes) -> np.ndarray:
    """The PNG as an RGB array, row 0 at the top."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])


def near(image: np.ndarray, colour: str, tolerance: int = 40) -> np.ndarray:
    """A mask of the pixels within `tolerance` (per channel) of `colour`."""
    return np.all(np.abs(image.astype(int) - rgb(colour)) <= tolerance, axis=-1)


def distinct_colours(image: np.ndarray) -> int:
    return len(np.unique(image.reshape(-1, 3), axis=0))


# --- drawing ------------------------------------------------------------------------------------------------


def test_line_panel_draws_a_png_of_the_declared_size():
    """A line chart is a PNG of exactly width_px x (420 per panel), with the lines' colours in it."""
    png = render_png(day_spec())
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png_size(png) == (1000, PANEL_HEIGHT_PX)
    image = pixels(png)
    assert image.shape == (PANEL_HEIGHT_PX, 1000, 3)
    assert distinct_colours(image) > 100
    assert near(image, TONE_COLOURS[Tone.PRIMARY], 10).sum() > 1000
    assert near(image, TONE_COLOURS[Tone.MUTED], 10).sum() > 300


def test_bars_panel_draws_both_series_side_by_side():
    """A bar chart shows both tones, the gain bars left of the loss bars within each label."""
    spec = bars_spec().model_copy(update={"width_px": 800, "height_px": 500})
    png = render_png(spec)
    assert png_size(png) == (800, 500)
    image = pixels(png)
    gain = near(image, TONE_COLOURS[Tone.GAIN], 10)
    loss = near(image, TONE_COLOURS[Tone.LOSS], 10)
    assert gain.sum() > 5000
    assert loss.sum() > 1000
    assert np.nonzero(gain)[1].min() < np.nonzero(loss)[1].min()


def test_panels_stack_top_to_bottom():
    """Two panels make an 840 px tall chart whose first panel sits above the second."""
    spec = month_spec()
    assert png_size(render_png(spec)) == (1000, 2 * PANEL_HEIGHT_PX)
    first, second = draw_figure(spec).axes
    assert first.get_title(loc="left") == "Members"
    assert second.get_title(loc="left") == "Joins and leaves per day"
    assert first.get_position().y0 > second.get_position().y1


def test_title_and_subtitle_are_at_the_top():
    """The chart's title and subtitle are figure texts above every panel."""
    figure = draw_figure(month_spec())
    texts = {text.get_text(): text for text in figure.texts}
    assert set(texts) == {"Members, November 2026", "1 Nov to 30 Nov 2026, America/New_York"}
    top_of_panels = max(ax.get_tightbbox().y1 for ax in figure.axes)
    assert all(text.get_window_extent().y0 > top_of_panels for text in texts.values())


def test_an_overlong_title_is_shrunk_and_cut_to_fit():
    """A title wider than the chart is made smaller and ends with an ellipsis instead of running off."""
    spec = line_spec([1, 2, 3]).model_copy(update={"title": "Members of a very long server name " * 6})
    (title,) = draw_figure(spec).texts
    assert title.get_text().endswith("…")
    assert title.get_window_extent().x1 <= 1000


def test_a_panel_without_values_says_no_data():
    """A panel whose every value is missing shows "No data" instead of an empty frame."""
    (ax,) = draw_figure(line_spec([None, None, None])).axes
    assert [text.get_text() for text in ax.texts] == ["No data"]


def test_a_dollar_sign_is_text_not_a_formula():
    """Two dollar signs in a title draw as written (matplotlib would otherwise parse mathtext)."""
    spec = line_spec([1, 2]).model_copy(update={"title": "Boosts: $5 and $10 tiers"})
    png = render_png(spec)
    assert png.startswith(b"\x89PNG")


def test_an_emoji_the_font_lacks_does_not_fail_the_chart():
    """A glyph DejaVu Sans does not have (an emoji in a name) draws as a box, without a warning."""
    spec = line_spec([1, 2]).model_copy(update={"title": "Members of 🎮 Gamers"})
    assert render_png(spec).startswith(b"\x89PNG")


def test_drawing_is_deterministic_and_carries_no_metadata():
    """The same spec gives the same bytes, with no Software or time stamp chunk in the PNG."""
    first, second = render_png(bars_spec()), render_png(bars_spec())
    assert first == second
    assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(png_chunk_types(first))


# --- gaps ---------------------------------------------------------------------------------------------------


def test_none_leaves_a_gap_in_the_line():
    """Where values are None no line is drawn; on either side it is."""
    values: list[float | None] = [10, 12, 14, 16, None, None, None, None, 16, 14, 12, 10]
    spec = line_spec(values)
    (ax,) = draw_figure(spec).axes
    image = pixels(render_png(spec))
    times = spec.panels[0].times
    height = image.shape[0]
    _, bottom = ax.transAxes.transform((0, 0))
    _, top = ax.transAxes.transform((0, 1))
    rows = slice(round(height - top) + 2, round(height - bottom) - 2)  # inside the plot, PNG rows go down

    def line_pixels_at(moment: datetime) -> int:
        x, _ = ax.transData.transform((moment.timestamp(), 0))
        return int(near(image[rows, round(x) - 3 : round(x) + 4], TONE_COLOURS[Tone.PRIMARY], 10).sum())

    assert line_pixels_at(times[5] + timedelta(minutes=30)) == 0  # the middle of the gap
    assert line_pixels_at(times[1] + timedelta(minutes=30)) > 0
    assert line_pixels_at(times[9] + timedelta(minutes=30)) > 0


def test_a_lone_sample_between_gaps_shows_as_a_dot():
    """A value with missing neighbours on both sides is drawn as a marker, not lost as a zero-length line."""
    (ax,) = draw_figure(line_spec([1, 2, None, 5, None, 3, 4])).axes
    markers = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(markers) == 1
    assert list(markers[0].get_ydata()) == [5]


# --- numbers on the axes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (999, "999"),
        (1234, "1,234"),
        (1_234_567, "1,234,567"),
        (1234.0, "1,234"),
        (12.5, "12.5"),
        (0.25, "0.25"),
        (-1500, f"{MINUS}1,500"),
        (2999.9999999999995, "3,000"),
    ],
)
def test_format_count_uses_thousands_separators(value, text):
    """Axis and bar numbers read "1,234", keep needed decimals only, and use a true minus sign."""
    assert format_count(value) == text


def test_y_axis_labels_have_thousands_separators():
    """A panel of thousands labels its y ticks "12,000"-style."""
    (ax,) = draw_figure(line_spec([12000, 12500, 13000, 13500])).axes
    labels = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    assert labels
    assert all("," in label for label in labels)


def test_counts_get_whole_number_ticks():
    """A panel of small counts never shows a tick like 0.5 or 2.5."""
    (ax,) = draw_figure(line_spec([0, 1, 3, 2])).axes
    assert all(float(tick).is_integer() for tick in ax.get_yticks())


def test_bars_are_labelled_with_their_values():
    """Each bar carries its value ("1,234") and a missing value gets no label."""
    (ax,) = draw_figure(bars_spec()).axes
    shown = [text.get_text() for text in ax.texts]
    assert "1,234" in shown
    assert "3,020" in shown
    assert shown.count("") == 1  # Wednesday's missing leave count


def test_crowded_bars_are_not_numbered():
    """Twelve pairs of bars of thousands leave no room for numbers above them, so none are printed."""
    spec = bars_spec().model_copy(
        update={
            "panels": [
                Panel(
                    kind=PanelKind.BARS,
                    title="Messages per channel",
                    labels=[f"channel-{i}" for i in range(12)],
                    series=[
                        Series(label="This week", values=[5400 + i for i in range(12)]),
                        Series(label="Last week", values=[5000 + i for i in range(12)], tone=Tone.MUTED),
                    ],
                )
            ]
        }
    )
    (ax,) = draw_figure(spec).axes
    assert len(ax.texts) == 0


# --- time axes ----------------------------------------------------------------------------------------------


def samples(first: datetime, last: datetime, every: timedelta = timedelta(hours=1)) -> list[datetime]:
    """Sample times from `first` to `last` (both included) in first's zone, the way the stats service steps.

    Steps of whole days go by the wall clock (each sample at the same local time); shorter ones by real time.
    """
    wall_clock = every % timedelta(days=1) == timedelta(0)
    zone, moment, out = first.tzinfo, first if wall_clock else first.astimezone(UTC), []
    while moment <= last:
        out.append(moment.astimezone(zone))
        moment += every
    return out


def labels(first: datetime, last: datetime, every: timedelta = timedelta(hours=1)) -> list[str]:
    return [tick.label for tick in time_ticks(samples(first, last, every))]


def test_a_day_is_ticked_in_hours_of_its_own_zone():
    """A day shows every 3 hours on the local clock, midnights as dates."""
    start = datetime(2026, 11, 21, tzinfo=NEW_YORK)
    assert labels(start, start + timedelta(days=1)) == [
        "21 Nov", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "22 Nov",
    ]  # fmt: skip


def test_hour_ticks_follow_a_dst_change():
    """On the 25-hour day New York leaves summer time, ticks stay on round local hours."""
    ticks = time_ticks(
        samples(datetime(2026, 11, 1, tzinfo=NEW_YORK), datetime(2026, 11, 2, tzinfo=NEW_YORK))
    )
    assert [tick.label for tick in ticks] == [
        "1 Nov", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "2 Nov",
    ]  # fmt: skip
    assert ticks[1].at - ticks[0].at == timedelta(hours=4)  # 00:00 EDT to 03:00 EST
    assert [tick.at.utcoffset() for tick in ticks[:2]] == [timedelta(hours=-4), timedelta(hours=-5)]


def test_ticks_survive_the_json_trip_to_the_worker():
    """Times that lost their zone's name in JSON (offsets only) still tick on local midnights after DST."""
    spec = month_spec()
    travelled = ChartSpec.model_validate_json(spec.model_dump_json())
    assert travelled.panels[0].times[0].tzinfo != NEW_YORK  # only the offset made the trip
    assert time_ticks(travelled.panels[0].times) == time_ticks(spec.panels[0].times)
    assert [tick.at.hour for tick in time_ticks(travelled.panels[0].times)] == [0] * 5


def test_hour_ticks_in_a_half_hour_zone():
    """In a zone 5:30 from UTC, ticks still land on whole local hours."""
    start = datetime(2026, 11, 21, tzinfo=KOLKATA)
    assert labels(start, start + timedelta(hours=23, minutes=30))[:3] == ["21 Nov", "03:00", "06:00"]


def test_a_short_span_is_ticked_in_minutes():
    """An hour shows ten-minute ticks."""
    start = datetime(2026, 11, 21, 10, tzinfo=NEW_YORK)
    assert labels(start, start + timedelta(hours=1), timedelta(minutes=5)) == [
        "10:00", "10:10", "10:20", "10:30", "10:40", "10:50", "11:00",
    ]  # fmt: skip


def test_a_week_is_ticked_by_day():
    """A week shows each date."""
    start = datetime(2026, 11, 16, tzinfo=NEW_YORK)
    assert labels(start, start + timedelta(days=6)) == [
        "16 Nov", "17 Nov", "18 Nov", "19 Nov", "20 Nov", "21 Nov", "22 Nov",
    ]  # fmt: skip


def test_a_month_is_ticked_on_mondays():
    """A month shows the Mondays (Nov 2026 starts on a Sunday)."""
    start, end = datetime(2026, 11, 1, tzinfo=NEW_YORK), datetime(2026, 11, 30, tzinfo=NEW_YORK)
    assert labels(start, end, timedelta(days=1)) == ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"]


def test_a_year_is_ticked_by_month_with_the_year_where_it_changes():
    """Twelve months show month names; the first tick and January add the year."""
    start, end = datetime(2025, 12, 1, tzinfo=NEW_YORK), datetime(2026, 11, 30, tzinfo=NEW_YORK)
    ticks = labels(start, end, timedelta(days=1))
    assert ticks[:3] == ["Dec\n2025", "Jan\n2026", "Feb"]
    assert len(ticks) == 12


def test_several_years_are_ticked_by_quarter():
    """Three years of data show every third month, not 36 crowded labels."""
    start, end = datetime(2024, 1, 1, tzinfo=NEW_YORK), datetime(2026, 12, 31, tzinfo=NEW_YORK)
    ticks = labels(start, end, timedelta(days=7))
    assert ticks[:4] == ["Jan\n2024", "Apr", "Jul", "Oct"]
    assert len(ticks) == 12


def test_the_drawn_axis_uses_the_times_zone():
    """A Tokyo chart puts its "00:00"/date ticks at Tokyo midnight, not at UTC's."""
    spec = line_spec([float(i) for i in range(25)], zone=TOKYO)
    (ax,) = draw_figure(spec).axes
    tick_labels = [label.get_text() for label in ax.get_xticklabels()]
    assert tick_labels[0] == "21 Nov"
    assert ax.get_xticks()[0] == datetime(2026, 11, 21, tzinfo=TOKYO).timestamp()


# --- refused specs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (line_spec([1, 2]).model_copy(update={"panels": []}), "at least one panel"),
        (
            line_spec([1, 2]).model_copy(
                update={
                    "panels": [
                        Panel(
                            kind=PanelKind.BARS,
                            title="Bars",
                            labels=["a", "b"],
                            series=[Series(label="x", values=[1, 2, 3])],
                        )
                    ]
                }
            ),
            "3 values for 2 labels",
        ),
        (
            line_spec([1, 2]).model_copy(
                update={
                    "panels": [
                        Panel(
                            kind=PanelKind.LINE,
                            title="Naive",
                            times=[datetime(2026, 11, 21), datetime(2026, 11, 22)],  # noqa: DTZ001
                            series=[Series(label="x", values=[1, 2])],
                        )
                    ]
                }
            ),
            "aware",
        ),
        (line_spec([1, 2]).model_copy(update={"width_px": 100_000}), "width 100000 px"),
        (month_spec().model_copy(update={"height_px": 250}), "under 90 px per panel"),
    ],
)
def test_a_spec_that_cannot_be_drawn_is_refused(spec, problem):
    """Mismatched lengths, naive times, no panels or an unusable size raise ChartSpecError saying which."""
    with pytest.raises(ChartSpecError, match=problem):
        render_png(spec)


# --- reference images ---------------------------------------------------------------------------------------

TOLERANCE = 2.0  # RMS over 0-255 levels: room for antialiasing differences, none for a changed look


@pytest.mark.parametrize(
    ("name", "build"), [("day_online", day_spec), ("month_members", month_spec), ("weekday_bars", bars_spec)]
)
def test_chart_matches_its_reference_image(name, build, tmp_path):
    """Each kind of chart still looks like its reviewed reference PNG."""
    expected = REFERENCES / f"{name}.png"
    actual = tmp_path / f"{name}.png"
    actual.write_bytes(render_png(build()))
    if os.environ.get("UPDATE_CHART_REFERENCES") == "1":
        expected.write_bytes(actual.read_bytes())
    assert compare_images(str(expected), str(actual), tol=TOLERANCE) is None


# --- the worker and the process renderer --------------------------------------------------------------------


class Pipe:
    """Stands in for sys.stdin/sys.stdout: a text stream whose `.buffer` is bytes."""

    def __init__(self, data: bytes = b"") -> None:
        self.buffer = io.BytesIO(data)


def test_worker_main_turns_spec_json_into_png(monkeypatch):
    """The worker reads a spec's JSON on stdin, writes the same PNG render_png draws, and exits 0."""
    spec = bars_spec()
    stdin, stdout = Pipe(spec.model_dump_json().encode()), Pipe()
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)
    assert chart_worker.main() == 0
    assert stdout.buffer.getvalue() == render_png(spec)


@pytest.mark.parametrize("data", [b"not json", b'{"title": "no panels or alt text"}'])
def test_worker_main_refuses_bad_input_with_exit_2(monkeypatch, capsys, data):
    """Input that is not a chart spec exits 2 with the reason on stderr and nothing on stdout."""
    stdout = Pipe()
    monkeypatch.setattr(sys, "stdin", Pipe(data))
    monkeypatch.setattr(sys, "stdout", stdout)
    assert chart_worker.main() == 2
    assert "not a drawable chart spec" in capsys.readouterr().err
    assert stdout.buffer.getvalue() == b""


def test_the_bot_side_never_imports_matplotlib_and_the_worker_no_discord():
    """Importing the renderer loads no matplotlib; importing the worker loads no discord.py or aiohttp."""
    probe = (
        "import sys\n"
        "import src.utils.charts\n"
        "assert not {'matplotlib', 'numpy'} & set(sys.modules), 'the renderer imported matplotlib'\n"
        "import src.utils.chart_worker\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'discord', 'aiohttp', 'structlog'})\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", probe],
        cwd=IMPORT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def test_process_renderer_draws_in_a_child_process(tmp_path, monkeypatch):
    """A real worker, started from another cwd, returns exactly the PNG render_png draws in-process."""
    monkeypatch.chdir(tmp_path)  # the child must find `src` wherever the bot was started from
    renderer = ProcessChartRenderer(timeout=60, matplotlib_dir=tmp_path / "matplotlib")
    png = await renderer.render(month_spec())
    assert png == render_png(month_spec())
    assert (tmp_path / "matplotlib").is_dir()


async def test_a_spec_the_worker_refuses_raises_with_its_reason():
    """A spec that validates but cannot be drawn comes back as ChartRenderError with code 2 and the reason."""
    spec = line_spec([1, 2]).model_copy(update={"width_px": 100_000})
    with pytest.raises(ChartRenderError, match=r"(?s)exited with code 2.*width 100000 px"):
        await ProcessChartRenderer(timeout=60).render(spec)


def python(code: str) -> tuple[str, ...]:
    """A worker command that runs `code` instead of the real worker."""
    return (sys.executable, "-c", code)


async def test_a_failing_worker_raises_with_its_exit_code_and_stderr():
    """A worker exiting non-zero raises ChartRenderError quoting the code and the end of its stderr."""
    renderer = ProcessChartRenderer(
        command=python(
            "import sys; sys.stderr.write('Traceback...\\nMemoryError: out of memory\\n'); sys.exit(3)"
        )
    )
    with pytest.raises(ChartRenderError, match=r"(?s)exited with code 3.*MemoryError: out of memory"):
        await renderer.render(bars_spec())


async def test_a_worker_writing_no_png_raises():
    """A worker that exits 0 but writes something else is an error, not a broken attachment."""
    renderer = ProcessChartRenderer(command=python("print('hello')"))
    with pytest.raises(ChartRenderError, match="not a PNG"):
        await renderer.render(bars_spec())


async def test_the_worker_never_sees_the_bot_token(monkeypatch: pytest.MonkeyPatch):
    """BOT_TOKEN (and every other setting) stays in the bot: the worker's environment holds neither."""
    monkeypatch.setenv("BOT_TOKEN", "secret-token-for-this-test")
    monkeypatch.setenv("STATS_CHANNEL_ID", "1005")
    dump = (
        "import os, sys; sys.stdout.buffer.write(b'\\x89PNG\\r\\n\\x1a\\n' + repr(dict(os.environ)).encode())"
    )
    data = await ProcessChartRenderer(command=python(dump)).render(bars_spec())
    assert b"secret-token-for-this-test" not in data
    assert b"STATS_CHANNEL_ID" not in data
    assert b"PATH" in data


async def test_a_worker_that_cannot_start_raises():
    """A missing interpreter raises ChartRenderError rather than a bare OSError."""
    renderer = ProcessChartRenderer(command=("/nonexistent/python3", "-m", "src.utils.chart_worker"))
    with pytest.raises(ChartRenderError, match="could not start the chart worker"):
        await renderer.render(bars_spec())


SLEEPER = (
    "import os, sys, time; sys.stderr.write(f'pid {os.getpid()}\\n'); sys.stderr.flush(); time.sleep(60)"
)


def read_pid(pid_file: Path) -> int | None:
    text = pid_file.read_text() if pid_file.exists() else ""
    return int(text) if text.strip() else None


async def wait_for_pid(renderer_task: asyncio.Task[bytes], pid_file: Path) -> int:
    """The sleeping worker's pid, once it has written it."""
    for _ in range(500):
        if (pid := read_pid(pid_file)) is not None:
            return pid
        assert not renderer_task.done()
        await asyncio.sleep(0.01)
    raise AssertionError("the worker never started")


def gone(pid: int) -> bool:
    """Whether the process `pid` has exited and been reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_worker_that_takes_too_long_is_killed():
    """Past the timeout the worker is killed and the error says so, with what it had written to stderr."""
    renderer = ProcessChartRenderer(timeout=1.5, command=python(SLEEPER))
    with pytest.raises(ChartRenderError, match=r"(?s)within 1.5s and was killed.*pid \d+") as raised:
        await renderer.render(bars_spec())
    pid = int(str(raised.value).rsplit("pid ", 1)[1])
    assert gone(pid)


async def test_cancelling_a_render_kills_the_worker(tmp_path):
    """When the bot cancels a render (shutting down), the worker process does not outlive it."""
    pid_file = tmp_path / "pid"
    code = (
        "import os, pathlib, sys, time\n"
        "pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    renderer = ProcessChartRenderer(timeout=60, command=(*python(code), str(pid_file)))
    task = asyncio.ensure_future(renderer.render(bars_spec()))
    pid = await wait_for_pid(task, pid_file)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(pid)


async def test_renders_beyond_max_concurrent_wait_their_turn(tmp_path):
    """With max_concurrent=1 a second worker starts only after the first has finished."""
    log = tmp_path / "log"
    code = (
        "import sys, time\n"
        f"with open({str(log)!r}, 'a') as f: f.write('start\\n')\n"
        "time.sleep(0.2)\n"
        f"with open({str(log)!r}, 'a') as f: f.write('end\\n')\n"
        "sys.stdout.buffer.write(b'\\x89PNG\\r\\n\\x1a\\n')\n"
    )
    renderer = ProcessChartRenderer(timeout=30, max_concurrent=1, command=python(code))
    await asyncio.gather(renderer.render(bars_spec()), renderer.render(bars_spec()))
    assert log.read_text().split() == ["start", "end", "start", "end"]
