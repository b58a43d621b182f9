"""Durations and error-code counts as a person reads them in a table."""

from __future__ import annotations

from collections.abc import Mapping

SHOWN_CODES = 4  # error codes named in a table cell; the rest are "…"


def hms(seconds: float) -> str:
    """Whole seconds as "M:SS", or "H:MM:SS" from an hour on; negative ones as "0:00"."""
    minutes, secs = divmod(max(0, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def error_codes(codes: Mapping[int, int] | Mapping[str, int]) -> str:
    """The commonest codes first, with their counts: "no code×39, 70009×1" (0: no reply)."""
    # sorted() is stable: codes of equal counts keep the order they were counted in
    common = sorted(codes.items(), key=lambda item: item[1], reverse=True)
    shown = [f"{'no code' if str(c) == '0' else c}×{n:,}" for c, n in common[:SHOWN_CODES]]
    return ", ".join(shown + (["…"] if len(codes) > SHOWN_CODES else []))
