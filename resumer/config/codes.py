"""The config's [codes] table: ErrorCodes moved into another class of reply, checked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import structlog

from resumer.api.classify import FATAL_CAUSES, OVERRIDE_CLASSES, THROTTLE_CODES, Action
from resumer.errors import UsageError

# What a throttle or fatal code does in its new class, said at start-up.
_THROTTLE_AS_RETRY = (
    "it counts as a failed attempt instead of slowing the app down, so a busy API gives rooms "
    "up (gave_up) after max_attempts"
)
_FATAL_AS_RETRY = (
    "each room sends it up to max_attempts times and a run of them is probed as an outage, "
    "instead of the app stopping at the first one"
)
_FATAL_AS_REJECT = (
    "every room of the app is sent and recorded rejected, which is final (--resume and "
    "report --todo skip them), instead of the app stopping at the first one"
)


def code_overrides(table: Mapping[str, Any]) -> dict[int, Action]:
    """The [codes] table as ErrorCode -> action; one sentence for a wrong class, code or repeat,
    or a move that can only do harm; a warning for a move that changes what a code means."""
    overrides: dict[int, Action] = {}
    classes: dict[int, str] = {}
    for name, codes in table.items():
        if name not in OVERRIDE_CLASSES:
            raise UsageError(
                f"unknown class '{name}' in [codes]: use {', '.join(OVERRIDE_CLASSES)}"
            )
        if not isinstance(codes, list) or any(
            isinstance(c, bool) or not isinstance(c, int) or c <= 0 for c in codes
        ):
            raise UsageError(
                f"[codes] {name} must be an array of ErrorCodes (positive whole numbers), "
                f"e.g. {name} = [100004]"
            )
        for code in codes:
            if code in classes:
                where = name if classes[code] == name else f"{classes[code]} and {name}"
                raise UsageError(
                    f"ErrorCode {code} is listed twice in [codes] ({where}): list each code once"
                )
            overrides[code], classes[code] = OVERRIDE_CLASSES[name], name
    log = structlog.get_logger("resumer")
    for code, name, effect in moves(classes):
        log.warning(
            "codes_moved", code=code, to=name, message=f"[codes] {name} = [{code}]: {effect}"
        )
    return overrides


def moves(classes: Mapping[int, str]) -> Iterator[tuple[int, str, str]]:
    """(code, class, what it does) for each throttle or fatal code moved to another class;
    UsageError for a move that can only do harm."""
    for code, name in classes.items():
        action = OVERRIDE_CLASSES[name]
        if code in THROTTLE_CODES and action in (Action.REJECT, Action.FATAL):
            raise UsageError(
                f"[codes] {name} lists {code}, a throttle code (the app's budget was full, the "
                "room itself is fine): made final, a busy API would fail rooms that --resume "
                f"then skips; remove {code} from [codes]"
            )
        if code in FATAL_CAUSES and action is Action.THROTTLE:
            raise UsageError(
                f"[codes] throttle lists {code}, a fatal code ({FATAL_CAUSES[code]}): a throttled "
                "request is retried without counting attempts, so the app would send it without "
                f"end; remove {code} from [codes], or list it under retry"
            )
        if code in THROTTLE_CODES and action is Action.RETRY:
            yield code, name, f"{code} is a throttle code; as retry, {_THROTTLE_AS_RETRY}"
        elif code in FATAL_CAUSES and action in (Action.RETRY, Action.REJECT):
            effect = _FATAL_AS_RETRY if action is Action.RETRY else _FATAL_AS_REJECT
            cause = FATAL_CAUSES[code]
            yield code, name, f"{code} is a fatal code ({cause}); as {name}, {effect}"
