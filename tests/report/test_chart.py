"""`resumer report --chart`: the series drawn, and the PNG they are drawn to."""

from __future__ import annotations

import struct
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from resumer.cli.main import main
from resumer.errors import UsageError
from resumer.records import Result, Status
from resumer.report import chart
from resumer.report.merge import merge
from resumer.results.schema import to_line

A, B = 1400000001, 1400000002
T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)


def rec(room: str, seconds: float, status: Status = Status.OK, app: int = A) -> bytes:
    ts = T0 + timedelta(seconds=seconds)
    text = f"{ts:%Y-%m-%dT%H:%M:%S}.{ts.microsecond // 1000:03d}Z"
    return to_line(Result(ts=text, sdkappid=app, room_id=room, status=status)).encode()


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's signature and IHDR chunk, or fail."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_series_count_each_second_and_a_silent_spell_is_a_gap() -> None:
    # app A: 3 ok in second 0, 1 rejected in second 1, nothing in 2..4, 2 ok in second 5
    # app B: 1 gave_up in second 5
    report = merge(
        [
            rec("a1", 0.1),
            rec("a2", 0.5),
            rec("a3", 0.9),
            rec("a4", 1.2, Status.REJECTED),
            rec("a5", 5.0),
            rec("a6", 5.7),
            rec("b1", 5.5, Status.GAVE_UP, app=B),
        ]
    )
    data = chart.chart_data(report)
    assert (data.start, data.bin_seconds, data.unit) == (int(T0.timestamp()), 1, "s")
    assert data.edges == (0, 1, 2, 3, 4, 5, 6)
    a, b = data.series
    assert (a.label, a.ok, a.not_ok) == ("app 1400000001", (3, 0, 0, 0, 0, 2), (0, 1, 0, 0, 0, 0))
    assert (b.label, b.ok, b.not_ok) == ("app 1400000002", (0,) * 6, (0, 0, 0, 0, 0, 1))
    assert data.gaps == ((2, 5),)  # 3 s with no room finished
    assert "7 rooms" in data.caption
    assert "5 ok, 1 rejected, 0 invalid, 1 gave up, 0 aborted" in data.caption


def test_a_long_incident_is_drawn_in_wider_bins_still_in_rooms_per_second() -> None:
    # 14 hours: 20 rooms in the first second, 10 in the last
    report = merge(
        [rec(f"a{i}", 0.0) for i in range(20)] + [rec(f"z{i}", 14 * 3600 - 0.5) for i in range(10)]
    )
    data = chart.chart_data(report)
    assert data.bin_seconds == 120  # the smallest that keeps 14 h under MAX_BINS bins
    assert data.unit == "h"
    assert len(data.edges) - 1 == 420
    (series,) = data.series
    assert series.ok[0] == pytest.approx(20 / 120)
    assert series.ok[-1] == pytest.approx(10 / 120)
    assert data.gaps == ((data.edges[1], data.edges[-2]),)


def test_apps_past_the_busiest_few_are_summed_as_one_series() -> None:
    lines = [
        rec(f"r{n}", 0.5, app=1400000000 + app)
        for app in range(1, chart.MAX_APPS + 4)
        for n in range(app)  # app k has k rooms
    ]
    data = chart.chart_data(merge(lines))
    labels = [s.label for s in data.series]
    assert labels[0] == f"app {1400000000 + chart.MAX_APPS + 3}"  # the busiest first
    assert labels[-1] == "3 other apps"
    assert data.series[-1].ok == (1 + 2 + 3,)


def test_no_timed_record_is_a_sentence_not_an_empty_chart() -> None:
    with pytest.raises(UsageError, match="nothing to chart"):
        chart.chart_data(merge([b"junk\n"]))


def test_the_png_is_drawn_at_the_documented_size(tmp_path: Path) -> None:
    report = merge([rec("a1", 0.1), rec("a2", 4.0, Status.REJECTED)])
    out = tmp_path / "chart.png"
    chart.draw(chart.chart_data(report), str(out))
    assert png_size(out) == (chart.WIDTH_PX, chart.HEIGHT_PX)


def test_report_chart_through_the_cli_draws_the_logs_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "results.jsonl"
    log.write_bytes(rec("a1", 0.1) + rec("a2", 3.5) + rec("a3", 3.6, Status.GAVE_UP))
    drawn: list[chart.ChartData] = []
    real_draw = chart.draw

    def spy(data: chart.ChartData, path: str) -> None:
        drawn.append(data)
        real_draw(data, path)

    monkeypatch.setattr(chart, "draw", spy)
    out = tmp_path / "incident.png"
    assert main(["report", str(log), "--chart", str(out), "--format", "json"]) == 0
    (data,) = drawn
    assert data.series[0].ok == (1, 0, 0, 1)
    assert data.series[0].not_ok == (0, 0, 0, 1)
    assert png_size(out) == (chart.WIDTH_PX, chart.HEIGHT_PX)
    assert f"chart written to {out}" in capsys.readouterr().err


def test_without_matplotlib_chart_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "results.jsonl"
    log.write_bytes(rec("a1", 0.1))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    assert main(["report", str(log), "--chart", str(tmp_path / "c.png")]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "resumer: --chart needs matplotlib, an optional extra: pip install 'resumer[report]'\n"
    )
    assert captured.out == ""
    assert not (tmp_path / "c.png").exists()


def test_an_unwritable_chart_is_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "results.jsonl"
    log.write_bytes(rec("a1", 0.1))
    assert main(["report", str(log), "--chart", str(tmp_path / "no" / "c.png")]) == 2
    assert "cannot write the chart" in capsys.readouterr().err
