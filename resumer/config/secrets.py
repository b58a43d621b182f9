"""Reading a secret key from its file: bounded, regular files only, warned if others may read it."""

from __future__ import annotations

import stat
from pathlib import Path

import structlog

from resumer.config.small import NotRegularError, read_small
from resumer.errors import UsageError

MAX_KEY_FILE_BYTES = 4096  # a secret key is one short line: a wrong path is refused


def read_secret_file(path: Path, where: str) -> str:
    """The key in `path`, a regular file read bounded; a warning if others may read it."""
    named = f"{where}: secret_key_file '{path}'"
    try:
        read = read_small(path, MAX_KEY_FILE_BYTES)
    except NotRegularError:
        raise UsageError(f"{named} is not a regular file: name the file holding the key") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read secret_key_file '{path}': {exc.strerror}") from None
    data, mode = read.data, read.mode
    if len(data) > MAX_KEY_FILE_BYTES:
        raise UsageError(
            f"{named} is over {MAX_KEY_FILE_BYTES} bytes, far more than a secret key: "
            "check the path"
        )
    secret = utf8_text(data, named).strip()
    if not secret:
        raise UsageError(f"{named} is empty")
    if mode & 0o077:  # as ssh does for a private key: say so, but go on
        structlog.get_logger("resumer").warning(
            "secret_key_file_too_open",
            path=str(path),
            message=f"permissions {stat.S_IMODE(mode):04o} on {path} are too open: "
            f"chmod 600 {path}",
        )
    return secret


def utf8_text(data: bytes, what: str) -> str:
    """`data` as text; one sentence naming `what` if it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} is not UTF-8 text (at byte offset {exc.start}): save it as UTF-8"
        ) from None
