"""``kubectl bluegreen``: argument parsing, the console, and the one place errors end.

Global flags (``-n``, ``--context``, ``--kubeconfig``, ...) are accepted before
or after the command, as kubectl accepts them. Every failure to reach or use
the API server ends here as one ``error: ...`` line and exit code 3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Final, NoReturn

from bluegreen.plugin import actions, completion
from bluegreen.plugin.commands import run_connected
from bluegreen.plugin.console import Console
from bluegreen.plugin.dashboard.address import DEFAULT_ADDRESS, DEFAULT_PORT, loopback_address
from bluegreen.plugin.kube import DEFAULT_REQUEST_TIMEOUT, PluginError, one_line
from bluegreen.plugin.verdict import ExitCode

DEFAULT_WAIT_TIMEOUT: Final = 600.0
EXIT_INTERRUPTED: Final = 130
COMMANDS_WITHOUT_SERVER: Final = frozenset({"completion"})


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on bad usage, which `status --wait` uses for a timeout.
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.ERROR, f"{self.prog}: error: {message}\n")


def _positive_seconds(value: str) -> int:
    try:
        return actions.parse_seconds(value)
    except actions.ActionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        return float(_positive_seconds(value))
    if seconds < 0:
        raise argparse.ArgumentTypeError("the timeout cannot be negative")
    return seconds


def _request_timeout(value: str) -> float:
    seconds = _timeout(value)
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the request timeout must be longer than 0 seconds")
    return seconds


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is between 0 and 65535")
    return port


def _loopback(value: str) -> str:
    try:
        return loopback_address(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """On the main parser with real defaults; on each command with SUPPRESS, so a flag
    given before the command is not reset by the command's parser."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "-n", "--namespace", default=default(None), help="namespace (default: the context's)"
    )
    parser.add_argument("--context", default=default(None), help="kubeconfig context to use")
    parser.add_argument(
        "--kubeconfig",
        default=default(None),
        help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)",
    )
    parser.add_argument(
        "--request-timeout",
        type=_request_timeout,
        default=default(DEFAULT_REQUEST_TIMEOUT),
        help="give up on one API request after this long (seconds or 30s, 1m)",
    )
    parser.add_argument(
        "--no-color",
        action="store_true",
        default=default(False),
        help="no colour (also: NO_COLOR set, or output not a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kubectl bluegreen",
        description="Inspect and steer BlueGreenRelease resources.",
        epilog="Exit codes: 0 ok, 1 release failed or rolled back, 2 timed out, "
        "3 usage error, API server unreachable or API error, 130 interrupted.",
    )
    _add_global_flags(parser, suppress=False)
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )

    def command(name: str, help_: str, *aliases: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, aliases=list(aliases))
        sub.set_defaults(command=name)
        _add_global_flags(sub, suppress=True)
        return sub

    lister = command("list", "list releases with phase, revisions and age", "ls")
    lister.add_argument(
        "-A", "--all-namespaces", action="store_true", help="releases of every namespace"
    )

    show = command("status", "a release as a tree: revisions, Deployments, pods, checks")
    show.add_argument("name")
    show.add_argument(
        "-w", "--watch", action="store_true", help="follow changes; redraw every second on a TTY"
    )
    show.add_argument(
        "--wait",
        action="store_true",
        help="wait until Ready (exit 0) or Stalled, Failed, RolledBack (exit 1)",
    )
    show.add_argument(
        "--timeout",
        type=_timeout,
        default=None,
        help=f"give up after this long (seconds or 10m; --wait default {DEFAULT_WAIT_TIMEOUT:g}s)",
    )

    command("promote", "approve the revision now awaiting promotion").add_argument("name")
    command("abort", "stop the release in flight (during a hold: roll back)").add_argument("name")
    command("rollback", "switch back to the previous revision").add_argument("name")
    extend = command("extend-hold", "keep the previous revision longer")
    extend.add_argument("name")
    extend.add_argument("seconds", type=_positive_seconds, help="seconds, or 90s, 10m, 1h")
    command("history", "list past releases").add_argument("name")

    board = command(
        "dashboard", "serve a read-only web page of the releases, updated live, on this machine"
    )
    board.add_argument(
        "-A", "--all-namespaces", action="store_true", help="releases of every namespace"
    )
    board.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}; 0: any free port, printed)",
    )
    board.add_argument(
        "--address",
        type=_loopback,
        default=DEFAULT_ADDRESS,
        help=f"loopback address to listen on (default {DEFAULT_ADDRESS}; no other is accepted)",
    )

    version = command("version", "the plugin's version, and the server's")
    version.add_argument(
        "--client", action="store_true", help="only the plugin's version; no API request"
    )

    complete = command("completion", "print a shell completion script")
    complete.add_argument("shell", choices=completion.SHELLS)
    return parser


def console_for(args: argparse.Namespace) -> Console:
    no_color = bool(args.no_color) or bool(os.environ.get("NO_COLOR"))
    return Console(color=not no_color)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == [completion.COMPLETE_COMMAND]:
        return completion.complete_main(words[1:], build_parser())
    args = build_parser().parse_args(words)
    console = console_for(args)
    if args.command in COMMANDS_WITHOUT_SERVER:
        console.out.write(completion.script(args.shell))
        return int(ExitCode.OK)
    try:
        return int(asyncio.run(run_connected(args, console)))
    except PluginError as exc:
        console.err.write(f"error: {one_line(exc)}\n")
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
