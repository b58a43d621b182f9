"""resumer with the fixed margin of before: `python -m bench.probes.fixed_margin run ...`.

The jitter sweep (bench scenario 7) runs resumer twice over the same path: as shipped, and with
the margin pinned at 1.5 %, every throttle read as a neighbour's and cut by CUBIC, as resumer
did before the margin was learned. This launcher pins it by swapping `resumer.pace.pacer.Margin`
for one that neither falls nor widens, then runs the real CLI. It lives in the bench, not behind
a flag or an environment variable of resumer's own, so no user can switch the learning off by
accident; and it runs the code of this very commit, so the two columns differ in the margin alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from resumer.cli.main import main
from resumer.pace import pacer
from resumer.pace.pacing import START_COVER, Margin


@dataclass(slots=True)
class FixedMargin(Margin):
    """A margin that neither falls (its floor is its start) nor widens: the pacer then answers
    every throttle with a CUBIC cut."""

    floor: float = START_COVER

    def widen(self, now: float) -> float:
        return 0.0


if __name__ == "__main__":
    pacer.Margin = FixedMargin  # type: ignore[attr-defined]  # not re-exported: swapped here
    sys.exit(main(sys.argv[1:]))
