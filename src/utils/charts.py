"""PNG charts from a `ChartSpec`, drawn with matplotlib's object API in a short-lived worker process.

Importing matplotlib (with numpy and its font cache) adds tens of megabytes to a process, and the memory
stays after the chart is drawn. So the bot never imports it: `ProcessChartRenderer` hands each chart to a
child process (`python -m src.utils.chart_worker`) that draws it with `render_png` and exits. The drawing
is also callable in-process (the worker and the tests use it), and imports matplotlib only when called.

The look: a solid dark card (#2b2d31, the background of a Discord embed in the dark theme) with light
text. Every contrast that matters is inside the card, so the picture reads the same on a dark or a light
chat; a transparent image would need colours readable on both #313338 and #ffffff, which text is not.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import warnings
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from src.core.exceptions import StatsBotError
from src.types.charts import ChartSpec, Panel, PanelKind, Series, Tone

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --- the theme -------------------------------------------------------------------------------------------

BACKGROUND = "#2b2d31"  # Discord's dark embed background: the card blends into a dark-theme embed
TEXT = "#f2f3f5"  # 12.4:1 on the card
SUBTLE_TEXT = "#b5bac1"  # 7.1:1: subtitle, ticks, legend
GRID = "#3f4147"  # decoration only: visible, never competing with the data
AXIS = "#4e5058"

# Each tone is at least 3:1 against the card (WCAG's bar for graphics). Gain and loss also differ strongly
# in lightness (9.5:1 vs 3.7:1), so they stay apart for readers who cannot tell green from red.
TONE_COLOURS: dict[Tone, str] = {
    Tone.PRIMARY: "#8c97ff",  # a lightened blurple, 5.3:1
    Tone.MUTED: "#949ba4",  # Discord's muted text grey, 4.9:1: the comparison steps back
    Tone.GAIN: "#57f287",  # Discord's green, 9.5:1
    Tone.LOSS: "#f23f43",  # Discord's red, 3.7:1
}

DPI = 100  # fixed, so a spec's pixel size is the PNG's pixel size and reference images compare
PANEL_HEIGHT_PX = 420  # `ChartSpec.height_px == 0`
MIN_SIDE_PX, MAX_SIDE_PX = 200, 4000  # a typo in a spec must not allocate gigabytes of canvas
MIN_PANEL_PX = 90  # below this a panel's ticks and title leave no room for the plot

# Discord shows a 1000 px wide image at roughly 400-520 px in the chat, so sizes are about twice what would
# look right full-size: a 15 pt tick label (21 px) still reads as ~10 px in the thumbnail.
TITLE_PT = 24.0
SUBTITLE_PT = 16.0
PANEL_TITLE_PT = 17.0
TICK_PT = 15.0
LEGEND_PT = 15.0
BAR_LABEL_PT = 14.0
LINE_WIDTH = 2.8
MARGIN_PX = 24

_STYLE: dict[str, Any] = {
    # Only the font matplotlib ships: the same glyphs on every machine, and no system font ever picked.
    "font.family": "DejaVu Sans",
    # A "$" in a server's text must stay a dollar sign, not start a formula.
    "text.parse_math": False,
    "text.color": TEXT,
    "axes.facecolor": BACKGROUND,
    "axes.edgecolor": AXIS,
    "axes.labelcolor": SUBTLE_TEXT,
    "axes.titlecolor": TEXT,
    "axes.titlesize": PANEL_TITLE_PT,
    "axes.titleweight": "bold",
    "axes.labelsize": TICK_PT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 1.0,
    "xtick.color": AXIS,
    "ytick.color": AXIS,
    "xtick.labelcolor": SUBTLE_TEXT,
    "ytick.labelcolor": SUBTLE_TEXT,
    "xtick.labelsize": TICK_PT,
    "ytick.labelsize": TICK_PT,
    "legend.fontsize": LEGEND_PT,
    "legend.labelcolor": SUBTLE_TEXT,
    "legend.frameon": False,
    "figure.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
}


class ChartSpecError(ValueError):
    """A chart spec that cannot be drawn (lengths that do not match, naive times, an absurd size)."""


class ChartRenderError(StatsBotError):
    """The chart worker failed, wrote something that is not a PNG, or took too long."""


# --- pure helpers: numbers and time ticks ----------------------------------------------------------------


def format_count(value: float) -> str:
    """An axis or bar number with thousands separators ("1,234") and a true minus sign."""
    if abs(value - round(value)) < 1e-9:
        text = f"{round(value):,}"
    else:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    # The typographic minus: as wide as a plus, and what matplotlib's own formatters use.
    return text.replace("-", "\N{MINUS SIGN}")


@dataclass(frozen=True, slots=True)
class TimeTick:
    """One labelled tick of a time axis."""

    at: datetime
    label: str


_MINUTE_STEPS = (5, 10, 15, 30, 60, 120, 180, 240, 360, 720)  # each divides a day
_MAX_CLOCK_TICKS = 9  # a day at 3-hour steps, both midnights included
_MAX_DAY_TICKS = 10
_MAX_MONTH_TICKS = 13  # a year, both ends included


def _day_label(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"  # "1 Nov": no zero padding, portable (no %-d)


class LocalClock:
    """The chart's wall clock, read from the UTC offsets its sample times carry.

    A spec reaches the worker as JSON, where each time keeps its offset ("...-05:00") but not its zone's
    name. The samples' offsets are the zone as far as the chart needs it: the offset at an instant is the
    one of the latest sample at or before it (the first sample's before them all). So midnight and "03:00"
    fall where the chart's own zone puts them, across a DST change, in the bot and in the worker alike.
    """

    def __init__(self, times: Sequence[datetime]) -> None:
        if not times:
            raise ChartSpecError("a time axis needs at least one time")
        offsets = []
        for moment in times:
            offset = moment.utcoffset()
            if offset is None:
                raise ChartSpecError("chart times must be aware datetimes (in the chart's time zone)")
            offsets.append((moment.timestamp(), offset))
        offsets.sort(key=lambda pair: pair[0])
        self._instants = [instant for instant, _ in offsets]
        self._offsets = [offset for _, offset in offsets]

    def offset(self, instant: float) -> timedelta:
        """The zone's UTC offset at `instant` (seconds since the epoch)."""
        return self._offsets[max(0, bisect_right(self._instants, instant) - 1)]

    def local(self, instant: float) -> datetime:
        """`instant` as an aware datetime on the chart's wall clock."""
        return datetime.fromtimestamp(instant, timezone(self.offset(instant)))

    def instant(self, wall: datetime) -> float:
        """The instant (seconds since the epoch) at which the wall clock reads the naive `wall`."""
        as_utc = wall.replace(tzinfo=UTC).timestamp()
        guess = as_utc - self.offset(as_utc).total_seconds()
        return as_utc - self.offset(guess).total_seconds()


def time_ticks(times: Sequence[datetime]) -> list[TimeTick]:
    """Ticks for a time axis over `times`, on round wall-clock times of the times' own zone.

    Up to two days: clock times ("03:00"; midnight shows its date). Up to three months: dates ("21 Nov"),
    daily or on Mondays. Longer: months ("Dec"; the first tick and each January also show the year).
    """
    clock = LocalClock(times)
    first, last = min(m.timestamp() for m in times), max(m.timestamp() for m in times)
    span = timedelta(seconds=last - first)
    if span <= timedelta(days=2):
        return _clock_ticks(clock, first, last)
    if span <= timedelta(days=92):
        return _day_ticks(clock, first, last)
    return _month_ticks(clock, first, last)


def _clock_ticks(clock: LocalClock, first: float, last: float) -> list[TimeTick]:
    # Every real 5 minutes, read on the local clock (offsets are whole quarter hours, so these readings are
    # round too): right across DST changes and in zones 5:30 from UTC, where wall-clock arithmetic is not.
    step_s = 300
    readings = [
        clock.local(instant) for instant in range(math.ceil(first / step_s) * step_s, int(last) + 1, step_s)
    ]
    for step in _MINUTE_STEPS:
        chosen = [m for m in readings if (m.hour * 60 + m.minute) % step == 0]
        if len(chosen) <= _MAX_CLOCK_TICKS:
            break
    return [TimeTick(m, _day_label(m) if m.hour == m.minute == 0 else f"{m:%H:%M}") for m in chosen]


def _midnights(clock: LocalClock, days: Sequence[date], first: float, last: float) -> list[datetime]:
    """The local midnights starting `days`, those within [first, last]."""
    instants = (clock.instant(datetime.combine(day, time(0))) for day in days)
    return [clock.local(instant) for instant in instants if first <= instant <= last]


def _day_ticks(clock: LocalClock, first: float, last: float) -> list[TimeTick]:
    start, end = clock.local(first).date(), clock.local(last).date()
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    midnights = _midnights(clock, days, first, last)
    for every, mondays in ((1, False), (2, False), (7, True), (14, True)):
        if mondays:
            chosen = [m for m in midnights if m.weekday() == 0 and (m.toordinal() // 7) % (every // 7) == 0]
        else:
            chosen = [m for m in midnights if m.toordinal() % every == 0]
        if len(chosen) <= _MAX_DAY_TICKS:
            break
    return [TimeTick(m, _day_label(m)) for m in chosen]


def _month_ticks(clock: LocalClock, first: float, last: float) -> list[TimeTick]:
    start, end = clock.local(first).date(), clock.local(last).date()
    months = []
    year, month = start.year, start.month
    while (day := date(year, month, 1)) <= end:
        months.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    starts = _midnights(clock, months, first, last)
    for every in (1, 2, 3, 6, 12):
        chosen = [m for m in starts if (m.month - 1) % every == 0]
        if len(chosen) <= _MAX_MONTH_TICKS:
            break
    return [
        TimeTick(m, f"{m:%b}\n{m.year}" if index == 0 or m.month == 1 else f"{m:%b}")
        for index, m in enumerate(chosen)
    ]


# --- drawing ---------------------------------------------------------------------------------------------


def _figure_size(spec: ChartSpec) -> tuple[int, int]:
    width = spec.width_px
    height = spec.height_px or PANEL_HEIGHT_PX * len(spec.panels)
    for name, side in (("width", width), ("height", height)):
        if not MIN_SIDE_PX <= side <= MAX_SIDE_PX:
            raise ChartSpecError(f"chart {name} {side} px is outside {MIN_SIDE_PX}-{MAX_SIDE_PX} px")
    if (height - _header_px(spec)) / len(spec.panels) < MIN_PANEL_PX:
        raise ChartSpecError(f"chart height {height} px leaves under {MIN_PANEL_PX} px per panel")
    return width, height


def _header_px(spec: ChartSpec) -> int:
    """The height of the title and subtitle above the panels."""
    return MARGIN_PX + _px(TITLE_PT) + (10 + _px(SUBTITLE_PT) if spec.subtitle else 0) + 16


def _check(spec: ChartSpec) -> None:
    """Refuse a spec whose parts do not fit together, before matplotlib is even imported."""
    if not spec.panels:
        raise ChartSpecError("a chart needs at least one panel")
    _figure_size(spec)
    for panel in spec.panels:
        axis, name = (panel.times, "times") if panel.kind is PanelKind.LINE else (panel.labels, "labels")
        for series in panel.series:
            if len(series.values) != len(axis):
                raise ChartSpecError(
                    f"panel {panel.title!r}: series {series.label!r} has {len(series.values)} values "
                    f"for {len(axis)} {name}"
                )
        if any(moment.tzinfo is None for moment in panel.times):
            raise ChartSpecError(f"panel {panel.title!r}: times must be aware datetimes")


def render_png(spec: ChartSpec) -> bytes:
    """Draw `spec` as PNG bytes: the same spec always gives the same bytes with one matplotlib version."""
    _check(spec)
    out = BytesIO()
    with _drawing():
        figure = _build(spec)
        # No "Software" entry (it names the matplotlib version), no time stamp: reference images compare.
        figure.savefig(out, format="png", dpi=DPI, facecolor=BACKGROUND, metadata={"Software": None})
    return out.getvalue()


def draw_figure(spec: ChartSpec) -> Figure:
    """The laid-out matplotlib `Figure` of `spec` on an Agg canvas (for inspecting a chart in tests)."""
    _check(spec)
    with _drawing():
        figure = _build(spec)
        figure.draw_without_rendering()
    return figure


@contextmanager
def _drawing() -> Iterator[None]:
    """The settings for drawing one chart, restored afterwards (so not for two threads drawing at once)."""
    # Imported here, never at the top of the module: the bot imports this module for
    # `ProcessChartRenderer` and must not pay for matplotlib; only the worker (and tests) ever draw.
    import matplotlib.style

    # `after_reset`: start from matplotlib's defaults, so a matplotlibrc lying around changes nothing.
    with matplotlib.style.context(_STYLE, after_reset=True), warnings.catch_warnings():
        # A glyph DejaVu Sans lacks (an emoji in a name) is drawn as a box; that is no reason to fail.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def _build(spec: ChartSpec) -> Figure:
    width, height = _figure_size(spec)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    header_px = _header_px(spec)
    layout = ConstrainedLayoutEngine(
        h_pad=8 / DPI, w_pad=MARGIN_PX / DPI, hspace=0.08, rect=(0, 0, 1, 1 - header_px / height)
    )
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)  # attaches itself: the figure draws with Agg, never through pyplot
    title = figure.text(
        MARGIN_PX / width,
        1 - MARGIN_PX / height,
        spec.title,
        color=TEXT,
        fontsize=TITLE_PT,
        fontweight="bold",
        va="top",
    )
    _fit(title, width - 2 * MARGIN_PX)
    if spec.subtitle:
        subtitle = figure.text(
            MARGIN_PX / width,
            1 - (MARGIN_PX + _px(TITLE_PT) + 10) / height,
            spec.subtitle,
            color=SUBTLE_TEXT,
            fontsize=SUBTITLE_PT,
            va="top",
        )
        _fit(subtitle, width - 2 * MARGIN_PX)
    axes = figure.subplots(len(spec.panels), 1, squeeze=False)[:, 0]
    for ax, panel in zip(axes, spec.panels, strict=True):
        _draw_panel(ax, panel, width)
    return figure


def _px(points: float) -> int:
    return round(points * DPI / 72)


def _fit(text: Text, max_px: float) -> None:
    """Shrink a header text, then cut it with an ellipsis, until it fits `max_px`."""
    size = float(text.get_fontsize())
    while text.get_window_extent().width > max_px and size > 12:
        size -= 1
        text.set_fontsize(size)
    full = text.get_text()
    keep = min(len(full), 300)  # no header is legible past this; it also bounds the loop below
    while text.get_window_extent().width > max_px and keep > 1:
        keep -= 1
        text.set_text(full[:keep].rstrip() + "…")


def _values(series: Series) -> list[float]:
    """The series' values with None as NaN, which matplotlib leaves as a gap."""
    return [float("nan") if value is None else value for value in series.values]


def _all_integral(panel: Panel) -> bool:
    return all(v is None or float(v).is_integer() for series in panel.series for v in series.values)


def _draw_panel(ax: Axes, panel: Panel, width_px: int) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.set_title(panel.title, loc="left", pad=12)
    if panel.y_label:
        ax.set_ylabel(panel.y_label)
    ax.tick_params(length=4, width=1, pad=6)
    ax.spines[["left", "bottom"]].set_color(AXIS)
    if not any(v is not None for series in panel.series for v in series.values):
        ax.text(0.5, 0.5, "No data", transform=ax.transAxes, ha="center", va="center", color=SUBTLE_TEXT)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    if panel.kind is PanelKind.LINE:
        _draw_lines(ax, panel)
    else:
        _draw_bars(ax, panel, width_px)
    # Counts get whole-number ticks (no "2.5 members"); fractional data (averages) keeps its decimals.
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=_all_integral(panel), steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: format_count(value)))
    if len(panel.series) > 1:
        # Inside the plot where it covers the least data: above the plot it ran into long panel titles.
        legend = ax.legend(loc="best", ncols=len(panel.series), handlelength=1.6, columnspacing=1.2)
        legend.get_frame().set_facecolor(BACKGROUND)
        legend.get_frame().set_alpha(0.85)


def _draw_lines(ax: Axes, panel: Panel) -> None:
    # Plain floats (seconds since the epoch) on the x axis: the ticks below are placed and labelled in the
    # times' own zone, so matplotlib's date machinery (and its time zone setting) is not involved.
    xs = [moment.timestamp() for moment in panel.times]
    for series in panel.series:
        colour = TONE_COLOURS[series.tone]
        ys = _values(series)
        ax.plot(
            xs,
            ys,
            color=colour,
            linewidth=LINE_WIDTH,
            linestyle=(0, (4, 2.5)) if series.dashed else "-",
            label=series.label,
            solid_capstyle="round",
        )
        # A sample with gaps on both sides would be a line of length zero: show it as a dot.
        lone = [i for i in range(len(ys)) if _is_lone(series.values, i)]
        if lone:
            ax.plot([xs[i] for i in lone], [ys[i] for i in lone], "o", color=colour, markersize=5)
    if len(xs) > 1:
        ax.set_xlim(min(xs), max(xs))
        ticks = time_ticks(panel.times)
        ax.set_xticks([tick.at.timestamp() for tick in ticks], [tick.label for tick in ticks])
    else:
        only = panel.times[0]
        ax.set_xticks(xs, [f"{_day_label(only)} {only:%H:%M}"])


def _is_lone(values: list[float | None], index: int) -> bool:
    before = values[index - 1] if index > 0 else None
    after = values[index + 1] if index + 1 < len(values) else None
    return values[index] is not None and before is None and after is None


def _text_px(text: str, points: float) -> float:
    """Roughly how wide `text` is in DejaVu Sans at `points` (a digit is about 0.6 em)."""
    return len(text) * points * DPI / 72 * 0.6


def _draw_bars(ax: Axes, panel: Panel, width_px: int) -> None:
    count = len(panel.series)
    width = 0.8 / count
    positions = list(range(len(panel.labels)))
    slot_px = width_px * 0.86 / max(1, len(panel.labels))  # the plot takes about 86% of the width
    values = [format_count(v) for series in panel.series for v in series.values if v is not None]
    # Print each bar's value above it only where the numbers have room (they may overhang the gap a bit).
    numbered = max(_text_px(text, BAR_LABEL_PT) for text in values) <= slot_px / count
    for index, series in enumerate(panel.series):
        offset = (index - (count - 1) / 2) * width
        bars = ax.bar(
            [p + offset for p in positions],
            _values(series),
            width=width * 0.92,
            color=TONE_COLOURS[series.tone],
            label=series.label,
            hatch="//" if series.dashed else None,
            edgecolor=BACKGROUND if series.dashed else None,
            linewidth=0,
        )
        if numbered:
            ax.bar_label(
                bars,
                labels=["" if v is None else format_count(v) for v in series.values],
                padding=3,
                fontsize=BAR_LABEL_PT,
                color=SUBTLE_TEXT,
            )
    ax.margins(y=0.15 if numbered else 0.05)
    highest = max((v for series in panel.series for v in series.values if v is not None), default=0.0)
    ax.set_ylim(bottom=0, top=None if highest > 0 else 1)  # counts of events: never below 0, 0-1 when all 0
    ax.grid(axis="x", visible=False)
    labels = [label if len(label) <= 16 else label[:15] + "…" for label in panel.labels]
    ax.set_xticks(positions, labels)
    if max(_text_px(label, TICK_PT) for label in labels) > slot_px:
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")


# --- the renderer the bot uses ---------------------------------------------------------------------------

# The folder holding the `src` package this module was imported from: the child runs there, so
# `python -m src.utils.chart_worker` imports this very checkout (or installation), whatever the bot's cwd.
IMPORT_ROOT = Path(__file__).resolve().parents[2]
WORKER_COMMAND = (sys.executable, "-m", "src.utils.chart_worker")
_STDERR_TAIL = 2000


WORKER_ENVIRONMENT = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "SYSTEMROOT",
        "MPLCONFIGDIR",
        "MPLBACKEND",
    }
)


class ProcessChartRenderer:
    """Draws each chart in a short-lived worker process, so matplotlib never enters the bot's memory.

    `timeout` bounds one worker's run (a cold start imports matplotlib: about a second); `max_concurrent`
    bounds how many workers (each ~100 MB at its peak) run at once, the rest wait their turn.
    `matplotlib_dir` (MPLCONFIGDIR) keeps matplotlib's font cache between runs; without it the worker uses
    matplotlib's default (~/.cache/matplotlib, or a new temporary folder each run when home is read-only).
    `command` replaces the worker's argv (tests use it to stand in a failing worker).
    """

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_concurrent: int = 1,
        matplotlib_dir: Path | None = None,
        command: Sequence[str] = WORKER_COMMAND,
    ) -> None:
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_concurrent)
        self._matplotlib_dir = matplotlib_dir
        self._command = tuple(command)

    async def render(self, spec: ChartSpec) -> bytes:
        """Return the PNG of `spec`, drawn by a child process; raise ChartRenderError when it fails."""
        payload = spec.model_dump_json().encode()
        async with self._slots:
            return await self._run(payload)

    def _environment(self) -> dict[str, str]:
        # Only what Python and matplotlib need: the worker never sees BOT_TOKEN or any other setting.
        env = {name: value for name, value in os.environ.items() if name in WORKER_ENVIRONMENT}
        if self._matplotlib_dir is not None:
            self._matplotlib_dir.mkdir(parents=True, exist_ok=True)
            env["MPLCONFIGDIR"] = str(self._matplotlib_dir)
        return env

    async def _run(self, payload: bytes) -> bytes:
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=IMPORT_ROOT,
                env=self._environment(),
            )
        except OSError as error:
            raise ChartRenderError(f"could not start the chart worker: {error}") from error
        # All three are PIPEs; the asserts tell mypy so.
        assert process.stdin is not None  # noqa: S101
        assert process.stdout is not None  # noqa: S101
        assert process.stderr is not None  # noqa: S101
        stderr = bytearray()  # filled as it arrives, so a timeout can still say what the worker said
        try:
            async with asyncio.timeout(self._timeout):
                _, png, _ = await asyncio.gather(
                    _feed(process.stdin, payload), process.stdout.read(), _drain(process.stderr, stderr)
                )
                code = await process.wait()
        except TimeoutError:
            raise ChartRenderError(
                f"chart worker gave no PNG within {self._timeout:g}s and was killed{_tail(stderr)}"
            ) from None
        finally:
            # On a timeout, a cancellation (the bot stopping) or any error: never leave a worker behind.
            if process.returncode is None:
                with suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if code != 0:
            raise ChartRenderError(f"chart worker exited with code {code}{_tail(stderr)}")
        if not png.startswith(PNG_SIGNATURE):
            raise ChartRenderError(f"chart worker wrote {len(png)} bytes that are not a PNG{_tail(stderr)}")
        return png


async def _feed(stdin: asyncio.StreamWriter, payload: bytes) -> None:
    """Write the spec and close stdin; a worker that died early shows in its exit code, not here."""
    with suppress(BrokenPipeError, ConnectionResetError):
        stdin.write(payload)
        await stdin.drain()
        stdin.close()
        await stdin.wait_closed()


async def _drain(stream: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await stream.read(65536):
        into.extend(chunk)


def _tail(stderr: bytearray) -> str:
    text = bytes(stderr[-_STDERR_TAIL:]).decode("utf-8", errors="replace").strip()
    return f"; its stderr ends:\n{text}" if text else " (nothing on stderr)"
