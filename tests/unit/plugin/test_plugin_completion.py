"""Shell completion: candidates in Cobra's format, from the parser and from lookups."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys

import pytest

from bluegreen.plugin import cli, completion

NAMES = ["cart", "shop", "shipping"]


async def _releases(args: argparse.Namespace) -> list[str]:
    seen.append(("releases", args.namespace, args.context))
    return NAMES


async def _namespaces(args: argparse.Namespace) -> list[str]:
    return ["default", "shop", "staging"]


seen: list[tuple[str, str | None, str | None]] = []
LOOKUPS = completion.Lookups(
    releases=_releases, namespaces=_namespaces, contexts=lambda args: ["dev", "prod"]
)


def complete(*words: str) -> tuple[list[str], int]:
    return asyncio.run(completion.candidates(cli.build_parser(), words, LOOKUPS))


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([""], ["abort", "completion", "dashboard", "extend-hold", "history", "list", "ls",
                "promote", "rollback", "status", "version"]),
        (["st"], ["status"]),
        (["-n", "shop", "p"], ["promote"]),
        (["status", "sh"], ["shop", "shipping"]),
        (["status", "shop", ""], []),
        (["extend-hold", "shop", ""], ["300", "10m", "1h"]),
        (["-n", ""], ["default", "shop", "staging"]),
        (["status", "--namespace", "st"], ["staging"]),
        (["--context", ""], ["dev", "prod"]),
        (["completion", ""], ["bash", "zsh", "fish"]),
        (["list", "--all"], ["--all-namespaces"]),
        (["status", "shop", "--wa"], ["--wait", "--watch"]),
    ],
)  # fmt: skip
def test_candidates(words: list[str], expected: list[str]) -> None:
    found, directive = complete(*words)
    assert found == expected
    assert directive == completion.NO_FILE_COMPLETION


def test_release_names_are_looked_up_where_the_flags_point() -> None:
    seen.clear()
    complete("--context", "prod", "status", "-n", "shop", "")
    assert seen == [("releases", "shop", "prod")]


def test_a_kubeconfig_value_completes_file_names() -> None:
    assert complete("--kubeconfig", "") == ([], completion.DEFAULT_COMPLETION)


def test_every_command_of_the_parser_is_offered() -> None:
    commands = set(complete("")[0])
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert commands == set(sub.choices)


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_completion_prints_a_script_for_each_shell(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "kubectl-bluegreen __complete" in script


def test_the_bash_script_is_valid_bash() -> None:
    result = subprocess.run(
        ["bash", "-n"], input=completion.script("bash"), text=True, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_kubectl_complete_speaks_cobras_format_without_a_cluster(tmp_path: object) -> None:
    # What kubectl runs for `kubectl bluegreen st<TAB>`: candidates, then ":<directive>".
    result = subprocess.run(
        [sys.executable, "-c", "from bluegreen.plugin.completion import main; main()", "st"],
        capture_output=True,
        text=True,
        check=True,
        env={"KUBECONFIG": "/nonexistent", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout == "status\n:4\n"


def test_names_from_an_unreachable_cluster_complete_nothing_quietly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen.plugin.cli", "__complete", "status", ""],
        capture_output=True,
        text=True,
        check=True,
        env={"KUBECONFIG": "/nonexistent", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout == ":4\n"
    assert result.stderr == ""
