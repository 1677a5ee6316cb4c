"""``kubectl bluegreen dashboard``: watch the scope, serve the page, until interrupted."""

from __future__ import annotations

import argparse

from aiohttp import web

from bluegreen.plugin.console import Console
from bluegreen.plugin.dashboard.feed import Feed
from bluegreen.plugin.dashboard.server import Dashboard, allowed_hosts, listen, url_of
from bluegreen.plugin.dashboard.snapshot import Scope
from bluegreen.plugin.kube import KubeApi
from bluegreen.plugin.verdict import ExitCode


async def serve(api: KubeApi, args: argparse.Namespace, console: Console) -> ExitCode:
    """Serve until cancelled (Ctrl-C). Every read goes through ``api``: the caller's
    kubeconfig and rights, nothing more."""
    namespace = None if args.all_namespaces else (args.namespace or api.target.namespace)
    scope = Scope(namespace, api.target.context, api.target.host)
    sock = listen(args.address, args.port)
    feed = Feed(api, namespace)
    dashboard = Dashboard(feed, scope, console.now, allowed_hosts(sock))
    runner = web.AppRunner(dashboard.app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        console.out.write(
            f"Dashboard of {scope.describe()} (context {scope.context}) at {url_of(sock)}\n"
            "Read-only, reachable from this machine only; Ctrl-C to stop.\n"
        )
        console.out.flush()
        await feed.run()
    finally:
        await runner.cleanup()
        sock.close()
    return ExitCode.OK
