"""`python -m promote.emulator [--port N] [--state-dir DIR]`: the same as `promote emulator`."""

from __future__ import annotations

import argparse
from pathlib import Path

from promote.commands.emulator import run_emulator_command
from promote.emulator.server import local_state_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m promote.emulator", description="Serve the local Azure emulator over HTTPS on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=local_state_dir(Path.cwd()),
        help="where state and certificates are kept (default: .promote/emulator/ in the current directory)",
    )
    args = parser.parse_args(argv)
    return run_emulator_command(args.port, args.state_dir)


if __name__ == "__main__":
    raise SystemExit(main())
