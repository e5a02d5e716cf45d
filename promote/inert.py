"""Untrusted text made inert before it is printed: the one escaping function of the output edge.

Names, keys, paths and messages that come from templates, environment files, plan files or the factory's answers
end up on a terminal, in a CI log, in a job summary and in annotations. There they must stay text:

- A GitHub Actions runner executes every line of a step's output that starts with `::` after leading white
  space (`::add-mask::`, `::stop-commands::`, `::warning::`), and every line that holds `##[` followed by a
  known command name anywhere (the legacy syntax the runner still reads). A name holding a line break would
  start such a line; a name starting with `::` printed first on a line would be one.
- A terminal obeys escape sequences (ESC, and CSI as one C1 byte): colours, cursor moves, rewriting what was
  printed above, window titles. Bidirectional controls reorder what a reviewer reads (Trojan Source).
- A name of a million characters buries everything after it.

`inert(text)` escapes every control character as JSON does (`\\n`, `\\u001b`, `\\u202e`: JSON output stays
valid JSON meaning the same), breaks `##[` (as `#\\u0023[`) and a leading `::` (with a backslash), and
abridges what is longer than `limit`, keeping its start and end. It is applied where untrusted text is put
into output (the views in `promote.render`, problems, errors, progress lines, `promote.github`).
`InertStream` is the last line of defence at the command-line edge: every line written to
stdout or stderr passes through `inert_line`, so that whatever a view forgot cannot run as a workflow command
or reach the terminal as an escape. Workflow commands `promote` means to send (`promote.github.emit`) go to
stderr's stream underneath (`command_stream()`).
"""

from __future__ import annotations

import hashlib
import re
import sys
from typing import Any, TextIO

MAX_TEXT = 300  # characters of one untrusted name, key or path shown; ADF's longest names are 260

# C0 and C1 controls, DEL, line and paragraph separators, bidirectional and invisible format characters.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_UNSAFE_IN_LINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LEGACY_COMMAND = "##["
_LEGACY_BROKEN = "#\\u0023["  # a JSON escape: JSON output stays valid JSON, and means the same
_COMMAND = "::"


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\u{ord(char):04x}"


def abridged(text: str, limit: int = MAX_TEXT, *, digest: bool = False) -> str:
    """`text` cut in the middle when longer than `limit`, saying how long it was; with `digest`, also the first
    12 hex digits of the sha256 of the whole text, so that two long texts can be told apart (`promote.shown`)."""
    if len(text) <= limit:
        return text
    tail = max(limit // 5, 1)
    head = max(limit - tail - 1, 1)
    mark = ""
    if digest:
        mark = ", sha256 " + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{text[:head]}…{text[-tail:]} ({len(text):,} characters{mark})"


def _defused(text: str) -> str:
    """`##[` broken everywhere, and `::` at the start (after white space) broken."""
    if _LEGACY_COMMAND in text:
        text = text.replace(_LEGACY_COMMAND, _LEGACY_BROKEN)
    stripped = text.lstrip()
    if stripped.startswith(_COMMAND):
        start = len(text) - len(stripped)
        text = f"{text[:start]}\\{text[start:]}"
    return text


def inert(text: Any, *, limit: int | None = MAX_TEXT) -> str:
    """Untrusted text as one inert line: control characters escaped, workflow commands broken, abridged past
    `limit` characters (None: never)."""
    text = text if isinstance(text, str) else str(text)
    if limit is not None:
        text = abridged(text, limit)
    if _UNSAFE.search(text):
        text = _UNSAFE.sub(_escape, text)
    return _defused(text)


def inert_line(line: str) -> str:
    """One line of output (without its line break) made inert, tabs kept: what `InertStream` does to each line."""
    if _UNSAFE_IN_LINE.search(line):
        line = _UNSAFE_IN_LINE.sub(_escape, line)
    return _defused(line)


def inert_lines(text: str) -> str:
    """Every line of `text` made inert, line breaks kept (for text made of lines, like an error's report)."""
    return "\n".join(inert_line(line) for line in text.split("\n"))


class InertStream:
    """A text stream that writes every line through `inert_line` to the stream it wraps.

    A line is written when it ends (and on `flush`, so that prompts and progress show at once); a partial line
    that is still only white space, or white space and one `:`, waits for more, since what follows decides
    whether it becomes a workflow command.
    """

    def __init__(self, stream: TextIO):
        self.stream = stream
        self._pending = ""  # the current line's text not yet written
        self._started = False  # part of the current line was written already (it cannot start a command)

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            *lines, self._pending = self._pending.split("\n")
            out = []
            for line in lines:
                out.append(_inert_tail(line) if self._started else inert_line(line))
                self._started = False
            self.stream.write("\n".join(out) + "\n")
        return len(text)

    def flush(self) -> None:
        pending = self._pending
        if pending and (self._started or pending.lstrip() not in ("", ":")):
            self.stream.write(_inert_tail(pending) if self._started else inert_line(pending))
            self._pending = ""
            self._started = True
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ... of the wrapped stream
        return getattr(self.stream, name)


def _inert_tail(text: str) -> str:
    """The rest of a line whose start was written already: it cannot start a command, the rest is escaped."""
    if _UNSAFE_IN_LINE.search(text):
        text = _UNSAFE_IN_LINE.sub(_escape, text)
    return text.replace(_LEGACY_COMMAND, _LEGACY_BROKEN)


def command_stream() -> TextIO:
    """Where workflow commands `promote` means to send go: stderr underneath any `InertStream`.

    stderr, so that stdout holds only what the command was asked for (`--format json` stays JSON that `jq` reads,
    a plan's markdown stays the plan). The runner reads workflow commands on both streams (actions/runner's
    `ScriptHandler` gives stdout and stderr each an `OutputManager` with the command manager)."""
    err = sys.stderr
    if isinstance(err, InertStream):
        err.flush()
        return err.stream
    return err
