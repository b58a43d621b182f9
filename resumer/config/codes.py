"""The config's [codes] table: ErrorCodes moved into another class of reply, checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resumer.api.classify import OVERRIDE_CLASSES, Action
from resumer.errors import UsageError


def code_overrides(table: Mapping[str, Any]) -> dict[int, Action]:
    """The [codes] table as ErrorCode -> action; one sentence for a wrong class, code or repeat."""
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
    return overrides
