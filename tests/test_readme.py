"""The README's two opening commands are a promise; CI runs the second one, so they must stay the same."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md must open with a bash block holding the two commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_two_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert "promote" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_commands()[1] in ci.splitlines()


def test_the_main_job_command_works_on_a_fresh_clone(tmp_path):
    """The README's first command, after its set-up part, in a clone: deploys the sample to the local emulator
    that runs inside promote itself (no PROMOTE_EMULATOR_URL), and a second look shows no changes."""
    import os
    import shlex
    import subprocess
    import sys
    from pathlib import Path

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    main_job = _readme_commands()[0].split("&&")[-1].strip()
    argv = shlex.split(main_job)
    assert argv[0] == ".venv/bin/promote"
    argv[0] = str(Path(sys.executable).with_name("promote"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOTE_")}
    result = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout
    again = subprocess.run(
        [argv[0], "diff", "--env", "local", "--exit-code"], cwd=clone, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert (clone / ".promote" / "emulator").is_dir()
