"""The one exception tree of resumer.

    ResumerError                 anything resumer raises on purpose
    ├── UsageError               bad flags, config, input file or credentials: exit 2, nothing sent
    │   ├── UserSigError         a UserSig that cannot be decoded, or expires too soon
    │   └── MetricsError         --metrics cannot listen, or its value is malformed
    ├── ResultsLogError          the results log could not be written mid-run: exit 4, the rest
    │                            of the outcomes went to stderr
    ├── InputBrokeError          an input broke after requests were sent: exit 5
    ├── RedisLostError           --redis: Redis gave no answer for --redis-timeout: exit 3
    └── TransportError           one request got no reply envelope (library errors translated here)
        ├── ConnectError         could not connect, or the connection broke mid-request
        └── RequestTimeout       no reply within --timeout

Replies that *are* envelopes (ErrorCode != 0) are not exceptions: `classify` turns them into
verdicts. TransportError is retryable; the run loop decides how many times.
"""

from __future__ import annotations


class ResumerError(Exception):
    """Base of every error resumer raises on purpose."""


class UsageError(ResumerError):
    """The operator's flags, config, credentials or input cannot be used; nothing was sent.

    The message is one plain sentence that names the problem and the fix.
    """


class UserSigError(UsageError):
    """A UserSig cannot be decoded, or is expired or about to expire."""


class ResultsLogError(ResumerError):
    """The results log could not be written after the run began (a full disk, a closed pipe).

    The run stopped sending; the outcomes it could not write went to stderr as JSON lines.
    """


class InputBrokeError(ResumerError):
    """An input could not be read any further after requests were sent; the log holds those."""


class RedisLostError(ResumerError):
    """Redis, which the run shares its budget on, gave no answer for longer than its timeout.

    The run stopped as on a signal (no request leaves without a shared slot); --resume finishes.
    """


class TransportError(ResumerError):
    """A request got no reply envelope from the API."""


class ConnectError(TransportError):
    """Could not connect, or the connection broke before a reply."""


class RequestTimeout(TransportError):
    """No reply within the configured timeout."""


class MetricsError(UsageError):
    """The metrics endpoint cannot be served (a malformed HOST:PORT, a port in use)."""
