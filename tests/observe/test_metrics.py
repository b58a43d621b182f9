"""The run's Prometheus metrics: read from the apps' counters, served on the loop, pushed."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from resumer.api.classify import Action, Verdict
from resumer.config.addresses import parse_listen
from resumer.config.model import AppConfig
from resumer.engine.app import App
from resumer.errors import MetricsError, UsageError
from resumer.observe.exposition import exposition, snapshot
from resumer.observe.metrics import MetricsServer
from resumer.records import Status


def make_app(sdkappid: int) -> App:
    return App(
        AppConfig(sdkappid=sdkappid, identifier="admin", secret_key="k"),
        rate=20,
        wallclock=lambda: 0.0,
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_every_metric_of_the_contract_is_read_from_the_apps_counters() -> None:
    one, two = make_app(1400000001), make_app(1400000002)
    one.stats.answered_request("ok", 0, 0.08)
    one.stats.answered_request("ok", 0, 0.4)
    one.stats.answered_request("retry", 100001, 12.0)
    one.stats.statuses[Status.OK] += 2
    one.stats.routed, one.stats.skipped = 5, 3
    two.fatal = Verdict(action=Action.FATAL, code=70009, info="")
    got = samples(exposition(snapshot({a.sdkappid: a for a in (one, two)})).decode())
    app = (("sdkappid", "1400000001"),)
    assert got["resumer_requests_total", (("code", "0"), ("outcome", "ok"), *app)] == 2
    assert got["resumer_requests_total", (("code", "100001"), ("outcome", "retry"), *app)] == 1
    assert got["resumer_rooms_total", (*app, ("status", "ok"))] == 2
    assert got["resumer_rooms_total", (*app, ("status", "skipped"))] == 3
    assert got["resumer_rooms_pending", app] == 3
    assert got["resumer_pacing_rate", app] == pytest.approx(19.7)
    assert got["resumer_pacing_margin_ratio", app] == pytest.approx(0.015)
    assert got["resumer_request_duration_seconds_bucket", (("le", "0.1"), *app)] == 1
    assert got["resumer_request_duration_seconds_bucket", (("le", "0.5"), *app)] == 2
    assert got["resumer_request_duration_seconds_bucket", (("le", "10.0"), *app)] == 2
    assert got["resumer_request_duration_seconds_bucket", (("le", "+Inf"), *app)] == 3
    assert got["resumer_request_duration_seconds_count", app] == 3
    assert got["resumer_request_duration_seconds_sum", app] == pytest.approx(12.48)
    assert got["resumer_outage", app] == 0
    assert got["resumer_app_stopped", app] == 0
    assert got["resumer_app_stopped", (("sdkappid", "1400000002"),)] == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_the_server_serves_scrapes_and_lingers_only_until_one_more_scrape() -> None:
    app = make_app(1400000001)
    server = MetricsServer({app.sdkappid: app})
    port = free_port()
    await server.start("127.0.0.1", port)
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            assert response.status == 200
            assert "resumer_pacing_rate" in await response.text()
        app.stats.statuses[Status.OK] += 1  # the run's last record
        stopping = asyncio.create_task(server.stop(linger=30))
        await asyncio.sleep(0.1)
        assert not stopping.done()  # the final state was not scraped yet
        async with session.get(url) as response:
            assert 'status="ok"' in await response.text()
        await asyncio.wait_for(stopping, 5)  # that scrape ends the linger at once


async def test_every_interface_is_ipv4_and_ipv6() -> None:
    app = make_app(1400000001)
    server = MetricsServer({app.sdkappid: app})
    port = free_port()
    await server.start(*parse_listen(f":{port}"))
    try:
        async with aiohttp.ClientSession() as session:
            for host in ("127.0.0.1", "[::1]"):
                async with session.get(f"http://{host}:{port}/metrics") as response:
                    assert response.status == 200, host
    finally:
        await server.stop(linger=0)


async def test_a_port_in_use_is_one_sentence() -> None:
    app = make_app(1400000001)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer({app.sdkappid: app})
        with pytest.raises(MetricsError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            await server.start("127.0.0.1", port)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        (":9464", ("", 9464)),  # every interface
        ("[::1]:80", ("::1", 80)),
    ],
)
def test_listen_addresses(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["9464", "host:", "host:99999", "host:port"])
def test_malformed_listen_addresses_are_refused(value: str) -> None:
    with pytest.raises(UsageError, match="is not HOST:PORT"):
        parse_listen(value)
