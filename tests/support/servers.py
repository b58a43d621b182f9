"""The real servers the tests start (Redis, a Pushgateway): they live in `bench/harness/servers.py`,
which the benchmarks use too, so bench code never imports the tests."""

from bench.harness.servers import (
    RedisServer,
    free_port,
    pushgateway,
    redis_cluster,
    redis_server,
    tls_files,
    tls_flags,
)

__all__ = [
    "RedisServer",
    "free_port",
    "pushgateway",
    "redis_cluster",
    "redis_server",
    "tls_files",
    "tls_flags",
]
