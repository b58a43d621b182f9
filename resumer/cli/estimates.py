"""How long rooms take at the paced rate, said as the CLI's sentences say it."""

from __future__ import annotations

from resumer.pace.pacer import MARGIN

PACE = 1 - MARGIN  # the share of the budget the pacer runs at


def paced(rate: float) -> float:
    """Requests/s a run at `rate` actually sends: the pacer keeps a margin under the budget."""
    return rate * PACE


def duration(seconds: float) -> str:
    """Whole seconds in the two largest units that apply: "2 h 5 min", "3 min 20 s", "7 s"."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
