"""resumer: resume the mixed-stream task of every affected TUILiveKit room, at the API's budget."""

from __future__ import annotations

import sys

__version__ = "0.1.0"


def _import_structlog_without_rich() -> None:
    """Import structlog once, with rich hidden from it.

    `structlog.dev` imports rich (console, traceback: about 0.13 s) at import time, only to
    offer rich tracebacks, which resumer never prints (`logs.configure` names the plain
    formatter). Hidden, rich loads only where it is used (the live display, `report`), and
    `--dry-run`, `usersig` and `--help` start without it.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # makes `import rich` fail
    try:
        import structlog  # noqa: F401, PLC0415
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
