"""What every test shares: structlog's global configuration reset after each test.

`logs.configure` binds structlog to the stream it is given (sys.stderr by default), and pytest
swaps sys.stderr for a capture file that it closes after each test: a test that configured
logging would otherwise leave the next one logging into a closed file.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
