"""`promote.inert`: untrusted text printed can never run as a GitHub workflow command or a terminal escape."""

from __future__ import annotations

import io
import json

import pytest

from promote.inert import MAX_TEXT, InertStream, abridged, command_stream, inert, inert_line


def starts_a_command(line: str) -> bool:
    """What the Actions runner executes: `::` at the start after white space, or `##[` anywhere."""
    return line.lstrip().startswith("::") or "##[" in line


HOSTILE = [
    "x\n::warning title=INJECTED::owned",
    "::add-mask::secret",
    "  ::stop-commands::token",
    "\t::error::x",
    "a\r::notice::b",
    "text ##[error]legacy",
    "\u2028::warning::x",
    "\x1b[2J\x1b]0;title\x07",
    "\x9b31m",
    "right\u202eto left",
    "%0A::warning::x",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_inert_text_is_one_line_with_no_command_and_no_control_character(text: str) -> None:
    out = inert(text)
    assert "\n" not in out and "\r" not in out
    assert not starts_a_command(out)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)
    assert "\u2028" not in out and "\u202e" not in out


def test_ordinary_names_are_unchanged() -> None:
    for name in ("pipelines/train_mnist", "a: b", "x::y", "[concat('a')]", "naïve — ok", "tab-less"):
        assert inert(name) == name


def test_escapes_read_as_json_escapes_so_json_output_stays_json() -> None:
    value = "a ##[x] \x9b \u2028 \x1b"
    line = json.dumps({"k": value}, ensure_ascii=False)
    assert json.loads(inert_line(line)) == {"k": value}


def test_long_text_is_abridged_keeping_both_ends() -> None:
    text = "start" + "x" * 1_000_000 + "end"
    out = inert(text)
    assert len(out) < MAX_TEXT + 40
    assert out.startswith("start") and "end (1,000,008 characters)" in out
    assert abridged("short") == "short"
    assert inert(text, limit=None) == text


def test_the_stream_guard_breaks_commands_split_across_writes() -> None:
    sink = io.StringIO()
    guard = InertStream(sink)
    guard.write(":")
    guard.flush()  # a lone ':' waits: the next write decides
    guard.write(":warning::x\n")
    guard.write("  ")
    guard.flush()
    guard.write("::error::y\nfine\x1b[0m\n")
    guard.write("prompt? ")
    guard.flush()
    lines = sink.getvalue().split("\n")
    assert not any(starts_a_command(line) for line in lines)
    assert "\x1b" not in sink.getvalue()
    assert lines[-1] == "prompt? "


def test_commands_promote_means_to_send_bypass_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = io.StringIO()
    monkeypatch.setattr("sys.stderr", InertStream(sink))
    assert command_stream() is sink
