"""A ready UserSig (given instead of the secret key) checked against the run it must last."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Sequence

from resumer import inputs
from resumer.api.usersig import decode_usersig
from resumer.cli.estimates import duration, paced
from resumer.config.model import USERSIG_ENV, RunConfig
from resumer.errors import UserSigError


def estimate_seconds(config: RunConfig, sources: Sequence[str]) -> float:
    """How long the run may take, for a ready UserSig's check: input lines at the paced rate.

    Counted only when a ready UserSig is used, and only in regular files: stdin, a pipe such as
    <(jq ...) or a FIFO can be read only once, and the run must get every line of it. Every
    line counts for every app, so the estimate errs long; with other inputs it errs short, and
    a UserSig that expires mid-run stops its app with a sentence saying so.
    """
    if not any(a.usersig for a in config.apps):
        return 0.0
    lines = 0
    for source in sources:
        if source == inputs.STDIN or not _is_regular_file(source):
            continue
        with open(source, "rb") as file:
            lines += sum(1 for line in file if line.strip() and not line.startswith(b"#"))
    return lines / paced(config.rate)


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # the run's own read says what is wrong with it


def check_ready_usersigs(config: RunConfig, run_seconds: float) -> None:
    """A ready UserSig must be one, for this app, and valid until the run's estimated end."""
    now = time.time()
    for app in config.apps:
        if app.usersig is None:
            continue
        info = decode_usersig(app.usersig)
        if info.sdkappid != app.sdkappid or info.identifier != app.identifier:
            raise UserSigError(
                f"the UserSig for app {app.sdkappid} was made for app {info.sdkappid}, "
                f"identifier {info.identifier!r}: make one for this app and identifier"
            )
        if info.expires_at <= now:
            raise UserSigError(
                f"the UserSig for app {app.sdkappid} expired {duration(now - info.expires_at)} "
                f"ago: make a new one, or set the secret key instead of {USERSIG_ENV}"
            )
        if info.expires_at < now + run_seconds:
            short = now + run_seconds - info.expires_at
            raise UserSigError(
                f"the UserSig for app {app.sdkappid} expires in {duration(info.expires_at - now)}"
                f" but the run needs about {duration(run_seconds)}: make one valid for "
                f"{duration(short)} longer, or set the secret key so resumer renews it"
            )
