"""The summary of a run: counts by app, status and error code, for the table, log and exit code."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from resumer.engine.app import AppCounts
from resumer.errors import InputBrokeError, RedisLostError, ResultsLogError
from resumer.records import Status


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """What the run did, for the closing table, the `run_finished` event and the exit code."""

    apps: dict[int, AppCounts]
    stopped: dict[int, str]  # apps stopped by a fatal error, with the sentence that says why
    duration: float
    interrupted: bool
    invalid_unrouted: int  # invalid lines that named no configured app
    skipped: int = 0  # rooms --resume found already final: not sent, not written again
    duplicates: int = 0  # input lines naming a room already seen: sent once
    # what cut the run short besides a signal or a fatal reply: the results log could not be
    # written, the input broke after requests were sent (the message says what broke; the CLI
    # adds how to go on), or Redis was gone past its timeout (the CLI exits 4 / 5 / 3)
    failure: ResultsLogError | InputBrokeError | RedisLostError | None = None

    def count(self, status: Status) -> int:
        """Rooms with this status, over every app."""
        total = sum(a.statuses[status] for a in self.apps.values())
        return total + (self.invalid_unrouted if status is Status.INVALID else 0)

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data, for the JSON log."""
        sent = sum(a.sent for a in self.apps.values())
        codes: Counter[str] = Counter()
        for a in self.apps.values():
            codes.update(a.codes)
        return {
            "statuses": {s.value: self.count(s) for s in Status if self.count(s)},
            "error_codes": dict(codes.most_common()),
            "requests": sent,
            "throttled": sum(a.throttles for a in self.apps.values()),
            "retries": sum(a.retries for a in self.apps.values()),
            "duration_s": round(self.duration, 3),
            "rate": round(sent / self.duration, 2) if self.duration > 0 else 0.0,
            "skipped": self.skipped,
            "duplicates": self.duplicates,
            "apps_stopped": sorted(self.stopped),
            "interrupted": self.interrupted,
            "failure": str(self.failure) if self.failure else None,
        }
