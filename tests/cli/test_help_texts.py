"""Every option of every ``v2xcloud`` command says what it does in ``--help``: a walk over the
argparse tree fails on any option (or positional) without a help text, naming the command."""

from __future__ import annotations

import argparse

from v2xcloud.cli.main import build_parser


def _walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name} (the command itself)")
                missing += _walk(sub, f"{path} {name}")
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if not (action.help or "").strip():
            flags = "/".join(action.option_strings) or action.dest
            missing.append(f"{path} {flags}")
    return missing


def test_every_option_has_a_help_text() -> None:
    missing = _walk(build_parser(), "v2xcloud")
    assert not missing, "options without help:\n" + "\n".join(missing)
