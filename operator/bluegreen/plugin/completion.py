"""Shell completion, in the protocol kubectl speaks with its plugins.

kubectl (1.26+) completes ``kubectl bluegreen ...`` by running
``kubectl_complete-bluegreen ARGS... WORD`` and reading one candidate per line
followed by ``:<directive>``, Cobra's format. ``kubectl-bluegreen __complete``
answers the same way, and ``completion bash|zsh|fish`` prints a script that
uses it for the standalone ``kubectl-bluegreen`` command.

Commands and flags come from the argparse parser itself, so completion cannot
drift from the CLI; release names, namespaces and contexts are read from the
cluster and the kubeconfig, and any failure there completes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from kubernetes_asyncio import config as k8s_config

from bluegreen.plugin.client import KubeReleaseClient
from bluegreen.plugin.kube import connect
from bluegreen.plugin.resource import mapping, mappings, text

COMPLETE_COMMAND: Final = "__complete"
SHELLS: Final = ("bash", "zsh", "fish")
NO_FILE_COMPLETION: Final = 4
"""Cobra's ShellCompDirectiveNoFileComp."""
DEFAULT_COMPLETION: Final = 0
"""Cobra's ShellCompDirectiveDefault: the shell completes file names."""
LOOKUP_TIMEOUT: Final = 3.0
"""A completion that waits on an unreachable server must not hang the shell."""
DURATION_HINTS: Final = ("300", "10m", "1h")


@dataclass(frozen=True)
class Lookups:
    """Where dynamic candidates come from; each may fail and then yields nothing."""

    releases: Callable[[argparse.Namespace], Awaitable[list[str]]]
    namespaces: Callable[[argparse.Namespace], Awaitable[list[str]]]
    contexts: Callable[[argparse.Namespace], list[str]]


@dataclass(frozen=True)
class _Command:
    parser: argparse.ArgumentParser
    positionals: tuple[argparse.Action, ...]
    flags: dict[str, argparse.Action]


def _commands(parser: argparse.ArgumentParser) -> dict[str, _Command]:
    found: dict[str, _Command] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = _Command(sub, *_split(sub))
    return found


def _split(
    parser: argparse.ArgumentParser,
) -> tuple[tuple[argparse.Action, ...], dict[str, argparse.Action]]:
    positionals = tuple(
        a
        for a in parser._actions
        if not a.option_strings and not isinstance(a, argparse._SubParsersAction)
    )
    flags = {opt: a for a in parser._actions for opt in a.option_strings}
    return positionals, flags


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _parse_words(
    parser: argparse.ArgumentParser, words: Sequence[str]
) -> tuple[str | None, list[str], argparse.Action | None, dict[str, str]]:
    """The command, its positionals so far, a flag awaiting its value, and the flags' values."""
    commands = _commands(parser)
    _, global_flags = _split(parser)
    command: str | None = None
    positionals: list[str] = []
    pending: argparse.Action | None = None
    values: dict[str, str] = {}
    for word in words:
        flags = commands[command].flags if command in commands else global_flags
        if pending is not None:
            values[pending.dest] = word
            pending = None
            continue
        if word.startswith("-"):
            name, has_value, value = word.partition("=")
            action = flags.get(name)
            if action is not None and _takes_value(action):
                if has_value:
                    values[action.dest] = value
                else:
                    pending = action
            continue
        if command is None:
            command = word if word in commands else None
            if command is None:
                return None, [], None, values
        else:
            positionals.append(word)
    return command, positionals, pending, values


async def candidates(
    parser: argparse.ArgumentParser, words: Sequence[str], lookups: Lookups
) -> tuple[list[str], int]:
    """What may come next after ``words[:-1]``, starting with ``words[-1]``; and the directive."""
    *before, current = list(words) or [""]
    command, positionals, pending, values = _parse_words(parser, before)
    args = argparse.Namespace(
        namespace=values.get("namespace"),
        context=values.get("context"),
        kubeconfig=values.get("kubeconfig"),
    )
    commands = _commands(parser)
    if pending is not None:
        return await _flag_values(pending, args, current, lookups)
    if current.startswith("-"):
        flags = commands[command].flags if command in commands else _split(parser)[1]
        return _starting(sorted(flags), current), NO_FILE_COMPLETION
    if command is None:
        return _starting(
            sorted(c for c in commands if not c.startswith("_")), current
        ), NO_FILE_COMPLETION
    wanted = commands[command].positionals
    if len(positionals) >= len(wanted):
        return [], NO_FILE_COMPLETION
    action = wanted[len(positionals)]
    if action.choices:
        return _starting([str(c) for c in action.choices], current), NO_FILE_COMPLETION
    if action.dest == "name":
        return _starting(await lookups.releases(args), current), NO_FILE_COMPLETION
    if action.dest == "seconds":
        return _starting(list(DURATION_HINTS), current), NO_FILE_COMPLETION
    return [], NO_FILE_COMPLETION


async def _flag_values(
    flag: argparse.Action, args: argparse.Namespace, current: str, lookups: Lookups
) -> tuple[list[str], int]:
    if flag.dest == "kubeconfig":
        return [], DEFAULT_COMPLETION
    found: list[str] = []
    if flag.dest == "namespace":
        found = await lookups.namespaces(args)
    elif flag.dest == "context":
        found = lookups.contexts(args)
    return _starting(found, current), NO_FILE_COMPLETION


def _starting(values: Sequence[str], prefix: str) -> list[str]:
    return [v for v in values if v.startswith(prefix)]


# --- the real lookups -----------------------------------------------------------------


async def _release_names(args: argparse.Namespace) -> list[str]:
    api = await connect(args.kubeconfig, args.context, LOOKUP_TIMEOUT)
    try:
        client = KubeReleaseClient(api)
        found = await client.releases(args.namespace or api.target.namespace)
    finally:
        await api.close()
    return sorted(text(mapping(o.get("metadata")).get("name")) for o in found)


async def _namespace_names(args: argparse.Namespace) -> list[str]:
    api = await connect(args.kubeconfig, args.context, LOOKUP_TIMEOUT)
    try:
        found = await api.request("GET", "/api/v1/namespaces")
    finally:
        await api.close()
    return sorted(
        text(mapping(i.get("metadata")).get("name")) for i in mappings(found.get("items"))
    )


def _context_names(args: argparse.Namespace) -> list[str]:
    contexts, _ = k8s_config.list_kube_config_contexts(config_file=args.kubeconfig)
    return sorted(text(mapping(c).get("name")) for c in contexts)


def _quiet_async(
    lookup: Callable[[argparse.Namespace], Awaitable[list[str]]],
) -> Callable[[argparse.Namespace], Awaitable[list[str]]]:
    async def run(args: argparse.Namespace) -> list[str]:
        try:
            return await asyncio.wait_for(lookup(args), LOOKUP_TIMEOUT)
        except Exception:  # a completion never fails loudly: it offers nothing
            return []

    return run


def _quiet(
    lookup: Callable[[argparse.Namespace], list[str]],
) -> Callable[[argparse.Namespace], list[str]]:
    def run(args: argparse.Namespace) -> list[str]:
        try:
            return lookup(args)
        except Exception:  # a completion never fails loudly: it offers nothing
            return []

    return run


REAL_LOOKUPS: Final = Lookups(
    releases=_quiet_async(_release_names),
    namespaces=_quiet_async(_namespace_names),
    contexts=_quiet(_context_names),
)


def complete_main(
    words: Sequence[str], parser: argparse.ArgumentParser, lookups: Lookups = REAL_LOOKUPS
) -> int:
    found, directive = asyncio.run(candidates(parser, words, lookups))
    sys.stdout.write("".join(f"{c}\n" for c in found) + f":{directive}\n")
    return 0


def main() -> int:
    """``kubectl_complete-bluegreen``: what kubectl runs to complete the plugin's words."""
    from bluegreen.plugin.cli import build_parser

    return complete_main(sys.argv[1:], build_parser())


# --- scripts for the standalone command -----------------------------------------------

_BASH: Final = r"""# bash completion for kubectl-bluegreen:
#   source <(kubectl-bluegreen completion bash)
# `kubectl bluegreen` itself completes through kubectl_complete-bluegreen (kubectl 1.26+).
_kubectl_bluegreen() {
    local cur="${COMP_WORDS[COMP_CWORD]}" out directive
    out="$(kubectl-bluegreen __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" || return
    directive="${out##*:}"
    out="${out%:*}"
    COMPREPLY=($(compgen -W "${out}" -- "${cur}"))
    if [[ ${#COMPREPLY[@]} -eq 0 && "${directive}" == 0 ]]; then
        COMPREPLY=($(compgen -f -- "${cur}"))
    fi
}
complete -o default -F _kubectl_bluegreen kubectl-bluegreen
"""

_ZSH: Final = r"""#compdef kubectl-bluegreen
# zsh completion for kubectl-bluegreen:
#   source <(kubectl-bluegreen completion zsh)
_kubectl_bluegreen() {
    local -a candidates
    local out
    out="$(kubectl-bluegreen __complete "${(@)words[2,CURRENT]}" 2>/dev/null)" || return
    candidates=("${(@f)${out%:*}}")
    if [[ "${out##*:}" == 0 && -z "${candidates[*]}" ]]; then
        _files
    else
        compadd -a candidates
    fi
}
compdef _kubectl_bluegreen kubectl-bluegreen
"""

_FISH: Final = r"""# fish completion for kubectl-bluegreen:
#   kubectl-bluegreen completion fish | source
function __kubectl_bluegreen_complete
    set -l words (commandline -opc)[2..-1] (commandline -ct)
    kubectl-bluegreen __complete $words 2>/dev/null | string match -v -r '^:[0-9]+$'
end
complete -c kubectl-bluegreen -f -a '(__kubectl_bluegreen_complete)'
"""


def script(shell: str) -> str:
    return {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}[shell]
