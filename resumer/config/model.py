"""The run's configuration records: the apps, the run, and the flags given on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

from resumer.api.classify import NO_OVERRIDES, Overrides
from resumer.config.redact import mask_endpoint
from resumer.config.sharing import SharingConfig

MAX_RATE = 20.0  # the API's documented budget, requests/s per SDKAppID
DEFAULT_TIMEOUT = 6.0  # seconds; the backend gives up after 3 s, so wait longer than that
DEFAULT_CONCURRENCY = 64  # in flight per app: 20/s holds even when replies take 3 s
DEFAULT_MAX_ATTEMPTS = 6
SECRET_KEY_ENV = "RESUMER_SECRET_KEY"  # noqa: S105  (the variable's name, not a secret)
USERSIG_ENV = "RESUMER_USERSIG"
REGIONS = {  # the API's domain for each data centre of the doc
    "china": "https://console.tim.qq.com",
    "singapore": "https://adminapisgp.im.qcloud.com",
    "silicon-valley": "https://adminapiusa.im.qcloud.com",
    "jakarta": "https://adminapiidn.im.qcloud.com",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AppConfig:
    """One app: its SDKAppID, admin identifier and exactly one credential (never printed)."""

    sdkappid: int
    identifier: str
    secret_key: str | None = None
    usersig: str | None = None

    def __repr__(self) -> str:  # keep credentials out of any accidental log or traceback
        return f"AppConfig(sdkappid={self.sdkappid}, identifier={self.identifier!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything `resumer run` needs, checked."""

    apps: tuple[AppConfig, ...]
    endpoint: str  # may hold credentials (user:password@): show `shown_endpoint` instead
    rate: float = MAX_RATE
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: float = DEFAULT_TIMEOUT
    # the config's [codes]: ErrorCodes moved to another class
    codes: Overrides = field(default_factory=lambda: NO_OVERRIDES)
    metrics: tuple[str, int] | None = None  # serve /metrics on (host, port)
    metrics_push: str | None = None  # push the metrics to this Pushgateway
    sharing: SharingConfig | None = None  # --redis: share each app's budget with other runs

    def __repr__(self) -> str:  # keep the endpoint's credentials out of any log or traceback
        return (
            f"RunConfig(apps={self.apps!r}, endpoint={self.shown_endpoint!r}, rate={self.rate}, "
            f"concurrency={self.concurrency}, max_attempts={self.max_attempts}, "
            f"timeout={self.timeout})"
        )

    @property
    def shown_endpoint(self) -> str:
        """The endpoint for logs and messages: any password in it masked."""
        return mask_endpoint(self.endpoint)


@dataclass(frozen=True, slots=True, kw_only=True)
class Flags:
    """The flags of `resumer run` that the loader merges over the file; None: not given."""

    sdkappid: int | None = None
    identifier: str | None = None
    region: str | None = None
    endpoint: str | None = None
    rate: float | None = None
    concurrency: int | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    metrics: str | None = None
    metrics_push: str | None = None
    redis: str | None = None  # beats RESUMER_REDIS_URL, which beats the file's `redis`
    redis_timeout: str | None = None
    ledger: str | None = None
    ledger_ttl: str | None = None
