"""``kubectl bluegreen``: argument parsing and command wiring.

Commands take their collaborators (client, clock, streams) as arguments so
tests drive them with a stateful fake instead of patching imports.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NoReturn, TextIO

from bluegreen.api.v1alpha1 import GROUP, SINGULAR
from bluegreen.plugin import actions, render
from bluegreen.plugin.client import PluginError, ReleaseClient, connect
from bluegreen.plugin.resource import Obj, status, text
from bluegreen.plugin.verdict import ExitCode, Verdict, exit_code, verdict

DEFAULT_WAIT_TIMEOUT = 600.0
CLEAR_SCREEN = "\x1b[H\x1b[2J"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _nonce() -> str:
    return secrets.token_hex(4)


@dataclass
class Console:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    now: Callable[[], datetime] = _utcnow
    nonce: Callable[[], str] = _nonce


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


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    common.add_argument("--context", help="kubeconfig context to use")
    common.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube)")

    parser = _Parser(
        prog="kubectl bluegreen",
        description="Inspect and steer BlueGreenRelease resources.",
        epilog="Exit codes: 0 ok, 1 release failed or rolled back, 2 timed out, "
        "3 usage or API error.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    show = commands.add_parser("status", parents=[common], help="show a release's status")
    show.add_argument("name")
    show.add_argument("-w", "--watch", action="store_true", help="re-render on every change")
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

    promote = commands.add_parser(
        "promote", parents=[common], help="approve the revision now awaiting promotion"
    )
    promote.add_argument("name")
    abort = commands.add_parser(
        "abort", parents=[common], help="stop the release in flight (during a hold: roll back)"
    )
    abort.add_argument("name")
    rollback = commands.add_parser(
        "rollback", parents=[common], help="switch back to the previous revision"
    )
    rollback.add_argument("name")
    extend = commands.add_parser(
        "extend-hold", parents=[common], help="keep the previous revision longer"
    )
    extend.add_argument("name")
    extend.add_argument("seconds", type=_positive_seconds, help="seconds, or 90s, 10m, 1h")
    history = commands.add_parser("history", parents=[common], help="list past releases")
    history.add_argument("name")
    return parser


def run(
    args: argparse.Namespace, client: ReleaseClient, namespace: str, console: Console
) -> ExitCode:
    """Carry out one parsed command; PluginError propagates to ``main``."""
    ns = args.namespace or namespace
    if args.command == "status":
        return _status(args, client, ns, console)
    if args.command == "history":
        console.out.write(render.render_history(client.get(ns, args.name), console.now()) + "\n")
        return ExitCode.OK
    return _act(args, client, ns, console)


def _act(args: argparse.Namespace, client: ReleaseClient, ns: str, console: Console) -> ExitCode:
    try:
        if args.command == "promote":
            obj = client.get(ns, args.name)
            action = actions.promote(obj)
            warning = actions.promote_warning(obj)
            if warning:
                console.err.write(warning + "\n")
        elif args.command == "abort":
            action = actions.abort()
        elif args.command == "rollback":
            action = actions.rollback()
        elif args.command == "extend-hold":
            action = actions.extend_hold(args.seconds)
        else:  # pragma: no cover - argparse only accepts the commands above
            raise PluginError(f"unknown command {args.command}")
        client.patch_annotations(ns, args.name, actions.annotation_patch(action, console.nonce()))
    except actions.ActionError as exc:
        console.err.write(f"error: {exc}\n")
        return ExitCode.ERROR
    console.out.write(f"{SINGULAR}.{GROUP}/{args.name} {action} requested\n")
    return ExitCode.OK


def _status(args: argparse.Namespace, client: ReleaseClient, ns: str, console: Console) -> ExitCode:
    obj = client.get(ns, args.name)
    if not args.watch and not args.wait:
        console.out.write(render.render_status(obj, console.now()) + "\n")
        return ExitCode.OK
    timeout = args.timeout
    if timeout is None and args.wait:
        timeout = DEFAULT_WAIT_TIMEOUT
    clear = args.watch and console.out.isatty()
    show: Callable[[Obj], None] = (
        (lambda o: _page(console, o, clear)) if args.watch else _Progress(console)
    )
    last = obj
    show(obj)
    result = verdict(obj)
    if args.wait and result is not Verdict.PENDING:
        return _finish(console, obj, args.watch, result)
    for obj in client.watch(ns, args.name, timeout):
        last = obj
        show(obj)
        result = verdict(obj)
        if args.wait and result is not Verdict.PENDING:
            return _finish(console, obj, args.watch, result)
    if not args.wait:
        return ExitCode.OK
    console.err.write(f"timed out after {render.format_duration(timeout or 0)} waiting for Ready\n")
    return _finish(console, last, args.watch, Verdict.PENDING)


def _page(console: Console, obj: Obj, clear: bool) -> None:
    if clear:
        console.out.write(CLEAR_SCREEN)
    console.out.write(render.render_status(obj, console.now()) + "\n\n")
    console.out.flush()


class _Progress:
    """One line per change of phase or message, for logs of CI jobs that wait.

    Most watch events only move replica counts or timestamps; repeating an
    identical line for each would bury the ones that matter.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._last: str | None = None

    def __call__(self, obj: Obj) -> None:
        state = status(obj)
        phase = text(state.get("phase"), "Unknown")
        message = text(state.get("message"))
        line = f"{phase}: {message}" if message else phase
        if line == self._last:
            return
        self._last = line
        self._console.out.write(line + "\n")
        self._console.out.flush()


def _finish(console: Console, obj: Obj, watching: bool, result: Verdict) -> ExitCode:
    # While watching, the full page is already on screen.
    if not watching:
        console.out.write(render.render_status(obj, console.now()) + "\n")
    return exit_code(result)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        client, namespace = connect(args.kubeconfig, args.context)
        return int(run(args, client, namespace, console))
    except PluginError as exc:
        console.err.write(f"error: {exc}\n")
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
