"""Secret key files: regular files only, read bounded, UTF-8, a warning if others may read."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from resumer.config.load import build_config
from resumer.config.model import Flags
from resumer.errors import UsageError


def _key_app(path: Path | str) -> dict[str, Any]:
    return {
        "region": "china",
        "apps": [{"sdkappid": 9, "identifier": "a", "secret_key_file": str(path)}],
    }


def test_a_key_file_must_be_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # never opened for writing: reading it would block forever
    for path in ("/dev/zero", str(fifo), str(tmp_path)):
        with pytest.raises(UsageError, match="is not a regular file: name the file holding"):
            build_config(_key_app(path), Flags(), {})


def test_a_key_file_is_read_bounded_and_must_be_utf8(tmp_path: Path) -> None:
    big, latin = tmp_path / "big", tmp_path / "latin"
    big.write_bytes(b"k" * 5000)
    latin.write_bytes(b"cl\xe9\n")
    with pytest.raises(UsageError, match="is over 4096 bytes, far more than a secret key"):
        build_config(_key_app(big), Flags(), {})
    with pytest.raises(UsageError, match=r"secret_key_file '.*latin' is not UTF-8 text"):
        build_config(_key_app(latin), Flags(), {})


def test_a_key_file_others_may_read_is_used_with_a_warning(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("k\n")
    key.chmod(0o644)
    with capture_logs() as logs:
        config = build_config(_key_app(key), Flags(), {})
    assert config.apps[0].secret_key == "k"
    assert [e["message"] for e in logs] == [
        f"permissions 0644 on {key} are too open: chmod 600 {key}"
    ]
    assert logs[0]["log_level"] == "warning"
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with capture_logs() as logs:
        build_config(_key_app(key), Flags(), {})
    assert logs == []
