"""A large results log to time `resumer report` on: `python -m bench.probes.report_log OUT [N]`.

N lines (default 1,000,000) as a run and its resume would leave them: three apps paced at
19.7/s each, most rooms ok, some rejected, gave_up or aborted, the rooms not final recorded again
by a resume at the end, and a torn last line. Then, e.g.:

    /usr/bin/time -v resumer report OUT > /dev/null
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from resumer.records import Result, Status
from resumer.results.schema import to_line, utc_timestamp

APPS = (1400000001, 1400000002, 1400000003)
PACE = 19.7 * len(APPS)  # records per second over every app
START = 1_795_000_000.0  # 2026-11-18


def records(count: int, *, seed: int = 7) -> Iterator[Result]:
    """`count` records: a first run, then a resume of the rooms it did not finish."""
    rng = random.Random(seed)
    first_run = count * 9 // 10
    todo: list[tuple[int, str]] = []
    for n in range(count):
        now = START + n / PACE
        if n < first_run:
            sdkappid, room_id = APPS[n % len(APPS)], f"live-{n:08d}"
            status = rng.choices(list(Status), weights=(90, 3, 1, 4, 2))[0]
            if not status.is_final:
                todo.append((sdkappid, room_id))
        else:  # the resume: rooms not final again, then rooms it never got to
            k = n - first_run
            sdkappid, room_id = todo[k] if k < len(todo) else (APPS[n % 3], f"live-{n:08d}")
            status = Status.OK if rng.random() < 0.97 else Status.GAVE_UP
        code = {Status.OK: 0, Status.REJECTED: 100004, Status.GAVE_UP: 100001}.get(status, 70009)
        yield Result(
            ts=utc_timestamp(now),
            sdkappid=sdkappid,
            room_id=room_id,
            status=status,
            error_code=code,
            error_info="" if status is Status.OK else "server busy",
            request_id=f"Id-{rng.getrandbits(96):024x}",
            attempts=1 if status is Status.OK else 6,
            elapsed_ms=rng.randrange(20, 400),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Write the log; print its size."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(args) <= 2:
        print(__doc__)
        return 2
    out, count = Path(args[0]), int(args[1]) if len(args) > 1 else 1_000_000
    with out.open("w", encoding="utf-8") as stream:
        for result in records(count):
            stream.write(to_line(result))
        stream.write('{"ts":"2026-11-18T')  # a crash mid-write
    print(f"{out}: {count:,} records and a torn line, {out.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
