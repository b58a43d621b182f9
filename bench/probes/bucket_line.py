"""resumer with the hard line of before: `python -m bench.probes.bucket_line run ...`.

Scenario 1 runs resumer twice over the same quiet path: as shipped, where the hard line bounds
spans of 21 sends (`pacing.HardLine`), and with the line of before, a leaky bucket of one
request (`aiolimiter.AsyncLimiter(1, 1 / (rate × 0.999))`), which holds every gap to a whole
line. This launcher swaps `resumer.pace.pacer.HardLine` for that rule, written as arithmetic
(the bucket of one lets the next send leave one line after the last), then runs the real CLI.
"""

from __future__ import annotations

import sys

from resumer.cli.main import main
from resumer.pace import pacer
from resumer.pace.pacing import HardLine


class BucketLine(HardLine):
    """A hard line that holds each gap to a whole line, as a bucket of one request does."""

    def earliest(self) -> float:
        return self._sent[(self._count - 1) % self.span] + self._interval


if __name__ == "__main__":
    pacer.HardLine = BucketLine  # type: ignore[attr-defined]  # not re-exported: swapped here
    sys.exit(main(sys.argv[1:]))
