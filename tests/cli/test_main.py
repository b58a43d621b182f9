"""The command line's own answers: short usage errors."""

from __future__ import annotations

import pytest

from resumer.cli.main import main


@pytest.mark.parametrize(
    ("argv", "wrong"),
    [
        (["run", "--region", "atlantis"], "invalid choice: 'atlantis'"),
        (["run", "--concurrency", "many"], "invalid int value: 'many'"),
        (["sim", "--port", "x"], "invalid int value: 'x'"),
        (["usersig", "--sdkappid", "1"], "required: --identifier"),
        (["nonsense"], "invalid choice: 'nonsense'"),
    ],
)
def test_a_usage_error_is_two_lines_and_exit_2(
    argv: list[str], wrong: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert wrong in lines[0]
    assert lines[1].startswith("see 'resumer")
    assert lines[1].endswith("--help' for the rest")
