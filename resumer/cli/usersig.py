"""`resumer usersig`: print a UserSig made from the app's secret key."""

from __future__ import annotations

import argparse
import time

from resumer.api.usersig import make_usersig
from resumer.cli.exits import EXIT_OK
from resumer.config.load import environ
from resumer.config.model import SECRET_KEY_ENV
from resumer.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `resumer usersig`."""
    parser.add_argument("--sdkappid", type=int, required=True)
    parser.add_argument("--identifier", required=True)
    parser.add_argument("--expire", type=int, default=86400, metavar="SECONDS")


def run(args: argparse.Namespace) -> int:
    """Print a UserSig for the app and identifier, valid for --expire seconds."""
    secret = environ().get(SECRET_KEY_ENV)
    if not secret:
        raise UsageError(f"set {SECRET_KEY_ENV} to the app's secret key first")
    if args.expire <= 0:
        raise UsageError("--expire must be a positive number of seconds")
    print(
        make_usersig(
            sdkappid=args.sdkappid,
            identifier=args.identifier,
            secret_key=secret,
            now=int(time.time()),
            expire=args.expire,
        )
    )
    return EXIT_OK
