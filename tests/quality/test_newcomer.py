"""A newcomer's path (issue #21, item 6): the README's replay commands work as written on the
case the repository keeps, and the ``cli`` nox session it names exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from helmmodel import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def replay_section_commands() -> list[list[str]]:
    """The ``helmmodel`` commands of the README's "Replaying a failure" block that name a
    real path (``PATH`` placeholders left out), comments stripped."""
    section = README[README.index("## Replaying a failure") :]
    block = section[section.index("```sh") + 5 : section.index("```", section.index("```sh") + 5)]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line.split("#", 1)[0])
        if words[:1] == ["helmmodel"] and "PATH" not in words and "--import" not in words:
            commands.append(words[1:])
    return commands


def test_the_readme_names_show_and_replay_of_a_kept_case() -> None:
    commands = replay_section_commands()
    assert {"replay", "show"} <= {command[0] for command in commands}
    shown = next(command for command in commands if command[0] == "show")
    assert (ROOT / shown[1]).is_file()


@pytest.mark.parametrize("command", replay_section_commands(), ids=" ".join)
def test_each_readme_replay_command_works_as_written(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert 0 == cli.main(command), capsys.readouterr()
    assert "MISMATCH" not in capsys.readouterr().out


def test_the_cli_session_the_readme_names_exists() -> None:
    assert re.search(r"^def cli\(session", (ROOT / "noxfile.py").read_text(), re.MULTILINE)
    assert "nox -s cli -- " in README
