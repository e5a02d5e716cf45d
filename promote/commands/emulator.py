"""`promote emulator` (and `python -m promote.emulator`): serve the emulator until Ctrl-C or SIGTERM, printing what a
client needs and the lines that point `promote` at it.

A command, apart from the server (`promote.emulator.server`): the lines it prints are the product's
(`promote.endpoints` decides what `PROMOTE_EMULATOR_URL` means), and the emulator itself imports nothing of the
product's endpoint decision.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path

from promote.emulator.api import ADMIN_PREFIX
from promote.emulator.server import DB_FILE, ENDPOINT_FILE, HOST, EmulatorServer
from promote.endpoints import EMULATOR_ENVIRONMENTS, export_lines


def run_emulator_command(port: int, state_dir: Path) -> int:
    """`promote emulator`: serve until Ctrl-C (or SIGTERM), printing the endpoint and the CA file."""
    server = EmulatorServer(state_dir, port=port)
    blocked = _block_stop_signals()  # before the server starts any thread: they inherit the mask
    try:
        server.start()
    except OSError as exc:
        _restore(blocked)
        print(f"promote emulator: cannot listen on {HOST}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    endpoint_file = server.state_dir / ENDPOINT_FILE
    endpoint_file.write_text(
        json.dumps({"endpoint": server.endpoint, "caFile": str(server.ca_file), "pid": os.getpid()}, indent=2) + "\n"
    )
    print(f"Azure emulator listening on {server.endpoint}", flush=True)
    print(f"CA certificate: {server.ca_file}", flush=True)
    print(f"State: {server.state_dir / DB_FILE}", flush=True)
    print(f"Control API: {server.endpoint}{ADMIN_PREFIX} (see promote/emulator/README.md)", flush=True)
    if server.recovered:
        print(
            f"Ended {len(server.recovered)} deployment(s) that an emulator which stopped was running, as Failed "
            f"(DeploymentInterrupted): {', '.join(server.recovered)}",
            flush=True,
        )
    print(
        "Clients: base_url=<endpoint>, connection_verify=<CA certificate>, any bearer token. Ctrl-C stops.", flush=True
    )
    print(
        f"Point promote at it (every `local` environment; a `cloud` one too when {EMULATOR_ENVIRONMENTS} names it):",
        flush=True,
    )
    for line in export_lines(server.endpoint, server.ca_file):
        print(line, flush=True)
    try:
        _wait_for_stop(blocked)
    finally:
        server.stop()
        _restore(blocked)
        with contextlib.suppress(OSError):
            endpoint_file.unlink()
    print("Azure emulator stopped.", flush=True)
    return 0


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def _block_stop_signals() -> set[int | signal.Signals] | None:
    """Block Ctrl-C and SIGTERM in this thread, so that every thread started after inherits the block and the
    kernel can hand them only to this thread, which takes them with `sigwait`. Unblocked, the kernel may deliver
    a process signal to the server's thread; Python then only sets a flag for the main thread, and a main thread
    asleep in `Event.wait()` never looks at it: the emulator ignored Ctrl-C. None where there is no
    `pthread_sigmask` (Windows)."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _wait_for_stop(blocked: set[int | signal.Signals] | None) -> None:
    """Return at Ctrl-C or SIGTERM."""
    if blocked is not None:
        signal.sigwait(STOP_SIGNALS)
        return
    stop = threading.Event()  # Windows: signals are handled by the main thread, which must wake to see them
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _restore(blocked: set[int | signal.Signals] | None) -> None:
    if blocked is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
