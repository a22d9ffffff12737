"""The chart worker: `python -m src.utils.chart_worker` reads a ChartSpec as JSON on stdin, writes a PNG.

Run by `ProcessChartRenderer` as a short-lived child, so matplotlib's memory goes away with the process.
Exit codes: 0 with the PNG on stdout; 2 when the input is not a drawable chart spec (the reason on stderr);
anything else is a bug, with Python's traceback on stderr. It imports pydantic, our chart models and
matplotlib, nothing else of weight (never discord.py).
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from src.types.charts import ChartSpec
from src.utils.charts import ChartSpecError, render_png

BAD_INPUT = 2


def main() -> int:
    """Draw the chart spec on stdin as a PNG on stdout; return the process's exit code."""
    try:
        spec = ChartSpec.model_validate_json(sys.stdin.buffer.read())
        png = render_png(spec)
    except (ValidationError, ChartSpecError) as error:
        print(f"chart worker: not a drawable chart spec: {error}", file=sys.stderr)
        return BAD_INPUT
    sys.stdout.buffer.write(png)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
