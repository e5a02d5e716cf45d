"""The command line's error boundary: expected errors, bugs and a closed pipe each end in one readable message
and their exit code; a bug never prints a traceback holding untrusted text unless PROMOTE_DEBUG=1 asks."""

from __future__ import annotations

import sys

import pytest

from promote.cli import error_boundary, inert_output
from promote.errors import InputError


def run_boundary(exc: BaseException) -> int:
    with error_boundary("diff") as outcome:
        raise exc
    return outcome[0]


def test_a_bug_is_one_line_exit_1_with_a_pointer(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.delenv("PROMOTE_DEBUG", raising=False)
    with inert_output():
        code = run_boundary(KeyError("x\n::warning title=INJECTED::\x1b[2J" + "k" * 10_000))
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: unexpected KeyError: ")
    assert "PROMOTE_DEBUG=1" in err and "Traceback" not in err
    assert "\x1b" not in err and len(err) < 600


def test_promote_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("PROMOTE_DEBUG", "1")
    code = run_boundary(ZeroDivisionError("boom"))
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" in err and "ZeroDivisionError: boom" in err


def test_a_system_error_names_the_file_without_calling_it_a_bug(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_boundary(PermissionError(13, "Permission denied", "/some/file"))
    err = capsys.readouterr().err
    assert code == 1 and err == "error: /some/file: Permission denied\n"


def test_an_expected_error_keeps_its_code_and_its_lines_go_out_inert(capsys: pytest.CaptureFixture[str]) -> None:
    with inert_output():
        code = run_boundary(InputError.single("t.json", "bad name 'a\n::add-mask::x'"))
    err = capsys.readouterr().err
    assert code == 2
    assert not any(line.lstrip().startswith("::") for line in err.splitlines())


def test_a_reader_that_goes_away_ends_the_command_quietly(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # the boundary points stdout at /dev/null: put it back after
    code = run_boundary(BrokenPipeError(32, "Broken pipe"))
    assert code == 1 and capsys.readouterr().err == ""
