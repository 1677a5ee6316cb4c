"""What each command does, given parsed arguments, a client and a console.

Commands take their collaborators as arguments so tests drive them with a
stateful fake client and a fixed clock instead of patching imports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final, Protocol

from rich.live import Live

from bluegreen.api.v1alpha1 import API_VERSION, GROUP, SINGULAR
from bluegreen.plugin import actions, render
from bluegreen.plugin.client import KubeReleaseClient, ReleaseClient, View
from bluegreen.plugin.console import Console
from bluegreen.plugin.kube import PluginError, connect
from bluegreen.plugin.resource import status, text
from bluegreen.plugin.tree import build_tree
from bluegreen.plugin.verdict import ExitCode, Verdict, exit_code, verdict
from bluegreen.plugin.version import version_line

DEFAULT_WAIT_TIMEOUT: Final = 600.0


async def run_connected(args: argparse.Namespace, console: Console) -> ExitCode:
    """Connect as the flags say, run the command, close the connection."""
    if args.command == "version" and args.client:
        console.out.write(version_line() + "\n")
        return ExitCode.OK
    api = await connect(args.kubeconfig, args.context, args.request_timeout)
    try:
        if args.command == "dashboard":
            # Only this command needs aiohttp's server side: the others start without it.
            from bluegreen.plugin.dashboard.serve import serve

            return await serve(api, args, console)
        return await run(args, KubeReleaseClient(api), console)
    finally:
        await api.close()


async def run(args: argparse.Namespace, client: ReleaseClient, console: Console) -> ExitCode:
    """Carry out one parsed command; PluginError propagates to ``main``."""
    ns = args.namespace or client.target.namespace
    if args.command == "version":
        return await _version(client, console)
    if args.command == "list":
        found = await client.releases(None if args.all_namespaces else ns)
        console.out.write(render.render_list(found, console.now(), args.all_namespaces) + "\n")
        return ExitCode.OK
    if args.command == "status":
        return await _status(args, client, ns, console)
    if args.command == "history":
        obj = await client.get(ns, args.name)
        console.out.write(render.render_history(obj, console.now()) + "\n")
        return ExitCode.OK
    return await _act(args, client, ns, console)


async def _version(client: ReleaseClient, console: Console) -> ExitCode:
    console.out.write(version_line() + "\n")
    server = await client.server_version()
    if await client.served():
        crd = f"{API_VERSION} served"
    else:
        crd = f"{API_VERSION} not served: is the BlueGreenRelease CRD installed?"
    console.out.write(f"server: Kubernetes {server} at {client.target.host}; {crd}\n")
    return ExitCode.OK


async def _act(
    args: argparse.Namespace, client: ReleaseClient, ns: str, console: Console
) -> ExitCode:
    try:
        if args.command == "promote":
            obj = await client.get(ns, args.name)
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
        patch = actions.annotation_patch(action, console.nonce())
        await client.patch_annotations(ns, args.name, patch)
    except actions.ActionError as exc:
        console.err.write(f"error: {exc}\n")
        return ExitCode.ERROR
    console.out.write(f"{SINGULAR}.{GROUP}/{args.name} {action} requested\n")
    return ExitCode.OK


# --- status ----------------------------------------------------------------------


class _Screen(Protocol):
    def changed(self, view: View) -> None: ...

    def tick(self) -> None: ...

    def close(self, view: View | None, result: Verdict) -> None: ...


class _Pages:
    """Without a terminal: the whole tree once per change (a log keeps every page)."""

    def __init__(self, console: Console) -> None:
        self.console, self.rich = console, console.rich()

    def changed(self, view: View) -> None:
        self.rich.print(build_tree(view, self.console.now()))
        self.rich.print()

    def tick(self) -> None:
        """A log gains nothing from a page per second."""

    def close(self, view: View | None, result: Verdict) -> None:
        """Every page is already printed."""


class _LivePage:
    """On a terminal: one page redrawn in place on every change and every second,
    so the hold and readiness countdowns move between watch events."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(
            console=console.rich(), auto_refresh=False, redirect_stdout=False, redirect_stderr=False
        )
        self.view: View | None = None

    def changed(self, view: View) -> None:
        self.view = view
        if not self.live.is_started:
            self.live.start()
        self.tick()

    def tick(self) -> None:
        if self.view is not None:
            self.live.update(build_tree(self.view, self.console.now()), refresh=True)

    def close(self, view: View | None, result: Verdict) -> None:
        if self.live.is_started:
            self.live.stop()


class _Progress:
    """``--wait`` alone: one line per change of phase or message, then the final page.

    Most watch events only move replica counts or timestamps; repeating an
    identical line for each would bury the ones that matter in a CI job's log.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last: str | None = None

    def changed(self, view: View) -> None:
        state = status(view.release)
        phase = text(state.get("phase"), "Unknown")
        message = text(state.get("message"))
        line = f"{phase}: {message}" if message else phase
        if line != self.last:
            self.last = line
            self.console.out.write(line + "\n")
            self.console.out.flush()

    def tick(self) -> None:
        """Lines are per change, not per second."""

    def close(self, view: View | None, result: Verdict) -> None:
        if view is not None:
            self.console.rich().print(build_tree(view, self.console.now()))


def _screen(args: argparse.Namespace, console: Console) -> _Screen:
    if args.watch and console.is_tty():
        return _LivePage(console)
    if args.watch:
        return _Pages(console)
    return _Progress(console)


async def _status(
    args: argparse.Namespace, client: ReleaseClient, ns: str, console: Console
) -> ExitCode:
    if not args.watch and not args.wait:
        view = await client.view(ns, args.name)
        console.rich().print(build_tree(view, console.now()))
        return ExitCode.OK
    timeout = args.timeout
    if timeout is None and args.wait:
        timeout = DEFAULT_WAIT_TIMEOUT
    screen = _screen(args, console)
    stream = client.follow(ns, args.name, owned=args.watch)
    last: View | None = None
    result = Verdict.PENDING
    try:
        views = _with_ticks(stream, console.redraw_seconds, timeout, screen)
        async with contextlib.aclosing(views):
            async for view in views:
                last = view
                screen.changed(view)
                result = verdict(view.release)
                if args.wait and result is not Verdict.PENDING:
                    break
    finally:
        if not isinstance(screen, _Progress):
            screen.close(last, result)
    if isinstance(screen, _Progress):
        if last is not None:
            # The final page shows what the release owns, which --wait did not follow.
            with contextlib.suppress(PluginError):
                last = await client.view(ns, args.name)
        screen.close(last, result)
    if not args.wait:
        return ExitCode.OK
    if result is Verdict.PENDING:
        console.err.write(
            f"timed out after {render.format_duration(timeout or 0)} waiting for Ready\n"
        )
    return exit_code(result)


async def _with_ticks(
    stream: AsyncIterator[View], every: float, limit: float | None, screen: _Screen
) -> AsyncGenerator[View, None]:
    """The stream's views; between them ``screen.tick()`` every ``every`` seconds.

    Ends when the stream ends or after ``limit`` seconds (None: when the caller stops).
    """
    loop = asyncio.get_running_loop()
    deadline = None if limit is None else loop.time() + limit
    pending: asyncio.Future[View] = asyncio.ensure_future(_next(stream))
    try:
        while True:
            wait = every
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    return
                wait = min(wait, left)
            done, _ = await asyncio.wait({pending}, timeout=wait)
            if not done:
                screen.tick()
                continue
            try:
                view = pending.result()
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(_next(stream))
            yield view
    finally:
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, PluginError):
            await pending
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _next(stream: AsyncIterator[View]) -> View:
    return await anext(stream)
