"""Argument parsing, command wiring and exit codes, against a stateful fake API."""

from __future__ import annotations

import asyncio
import copy
import io
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from plugin_samples import NOW, deployment, holding, pod, with_condition, with_status

from bluegreen.plugin import cli, commands
from bluegreen.plugin.client import ReleaseNotFoundError, View
from bluegreen.plugin.console import Console
from bluegreen.plugin.kube import Target
from bluegreen.plugin.resource import ACTION_ANNOTATION, Obj
from bluegreen.plugin.verdict import ExitCode


class FakeReleases:
    """Keeps releases like an API server would; ``updates`` are what a watch will see.

    After the updates, the watch ends (``ends``) or stays open with nothing new, as
    a real one does.
    """

    def __init__(self, *objs: dict[str, Any], ends: bool = True) -> None:
        self.objects = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs}
        self.updates: list[dict[str, Any]] = []
        self.ends = ends
        self.follows: list[tuple[str, str, bool]] = []
        self.owned: dict[str, tuple[Obj, ...]] = {}

    @property
    def target(self) -> Target:
        return Target(host="https://fake", context="fake", namespace="shop")

    async def get(self, namespace: str, name: str) -> Obj:
        try:
            return copy.deepcopy(self.objects[(namespace, name)])
        except KeyError:
            raise ReleaseNotFoundError(f"{namespace}/{name}") from None

    async def releases(self, namespace: str | None) -> list[Obj]:
        return [copy.deepcopy(o) for (ns, _), o in self.objects.items() if namespace in (None, ns)]

    async def patch_annotations(self, namespace: str, name: str, patch: dict[str, Any]) -> Obj:
        obj = self.objects.get((namespace, name))
        if obj is None:
            raise ReleaseNotFoundError(f"{namespace}/{name}")
        assert set(patch) == {"metadata"} and set(patch["metadata"]) == {"annotations"}
        obj["metadata"].setdefault("annotations", {}).update(patch["metadata"]["annotations"])
        return copy.deepcopy(obj)

    async def view(self, namespace: str, name: str) -> View:
        return View(release=await self.get(namespace, name), **self.owned)  # type: ignore[arg-type]

    async def follow(self, namespace: str, name: str, *, owned: bool) -> AsyncIterator[View]:
        self.follows.append((namespace, name, owned))
        yield await self.view(namespace, name)
        while self.updates:
            obj = self.updates.pop(0)
            if obj is None:
                raise ReleaseNotFoundError(f'bluegreenrelease "{name}" was deleted')
            self.objects[(namespace, name)] = obj
            yield await self.view(namespace, name)
        if not self.ends:
            await asyncio.Event().wait()  # open, silent: only the caller's deadline ends it

    async def server_version(self) -> str:
        return "v1.36.3"

    async def served(self) -> bool:
        return True


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def console(out: io.StringIO | None = None, now: Callable[[], datetime] = lambda: NOW) -> Console:
    return Console(out=out or io.StringIO(), err=io.StringIO(), now=now, nonce=lambda: "n0nce")


def invoke(
    api: FakeReleases, *argv: str, out: io.StringIO | None = None, con: Console | None = None
) -> tuple[ExitCode, str, str]:
    args = cli.build_parser().parse_args(argv)
    con = con or console(out)
    code = asyncio.run(commands.run(args, api, con))
    assert isinstance(con.out, io.StringIO) and isinstance(con.err, io.StringIO)
    return code, con.out.getvalue(), con.err.getvalue()


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    return with_condition(with_status(obj, phase="Complete", message="done"), "Ready", "True")


# --- parsing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "shop", "-n", "prod", "--context", "c", "--kubeconfig", "k", "--watch"],
        ["-n", "prod", "--context", "c", "--kubeconfig", "k", "status", "shop", "--watch"],
        ["-n", "prod", "status", "--context=c", "shop", "--watch", "--kubeconfig", "k"],
        ["--namespace=prod", "--context", "c", "status", "-w", "shop", "--kubeconfig=k"],
    ],
    ids=["after", "before", "mixed", "equals"],
)
def test_global_flags_go_before_or_after_the_command(argv: list[str]) -> None:
    args = cli.build_parser().parse_args(argv)
    parsed = (args.command, args.name, args.namespace, args.context, args.kubeconfig, args.watch)
    assert parsed == ("status", "shop", "prod", "c", "k", True)


def test_a_flag_after_the_command_wins() -> None:
    args = cli.build_parser().parse_args(["-n", "a", "history", "shop", "-n", "b"])
    assert args.namespace == "b"


def test_defaults_without_global_flags() -> None:
    args = cli.build_parser().parse_args(["list"])
    assert (args.namespace, args.context, args.kubeconfig, args.no_color) == (
        None,
        None,
        None,
        False,
    )
    assert args.request_timeout == 30.0
    assert not args.all_namespaces


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["status"],
        ["launch", "shop"],
        ["extend-hold", "shop"],
        ["extend-hold", "shop", "0"],
        ["extend-hold", "shop", "soon"],
        ["status", "shop", "--timeout", "-1"],
        ["--request-timeout", "0", "list"],
        ["completion", "tcsh"],
    ],
)
def test_usage_errors_exit_3_not_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # 2 means "timed out" for `status --wait`; a typo must not look like a timeout.
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(argv)
    assert exited.value.code == ExitCode.ERROR
    assert "error" in capsys.readouterr().err


def test_extend_hold_accepts_durations() -> None:
    assert cli.build_parser().parse_args(["extend-hold", "shop", "15m"]).seconds == 900


def test_no_color_from_the_flag_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli.console_for(cli.build_parser().parse_args(["list"])).color
    assert not cli.console_for(cli.build_parser().parse_args(["list", "--no-color"])).color
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cli.console_for(cli.build_parser().parse_args(["list"])).color


# --- list, version -------------------------------------------------------------


def test_list_shows_the_context_namespace_or_every_one() -> None:
    other = holding()
    other["metadata"]["namespace"] = "prod"
    api = FakeReleases(holding(), other)
    code, out, _ = invoke(api, "list")
    assert code == ExitCode.OK
    assert [line.split()[0] for line in out.splitlines()] == ["NAME", "shop"]
    _, out, _ = invoke(api, "ls", "-A")
    assert [line.split()[0] for line in out.splitlines()] == ["NAMESPACE", "prod", "shop"]
    _, out, _ = invoke(api, "list", "-n", "prod")
    assert len(out.splitlines()) == 2


def test_version_names_the_plugin_and_the_server() -> None:
    code, out, _ = invoke(FakeReleases(), "version")
    assert code == ExitCode.OK
    first, second = out.splitlines()
    assert first.startswith("kubectl-bluegreen ") and "bluegreen.dev/v1alpha1" in first
    assert second == "server: Kubernetes v1.36.3 at https://fake; bluegreen.dev/v1alpha1 served"


def test_version_client_needs_no_server(capsys: pytest.CaptureFixture[str]) -> None:
    # No kubeconfig at all: the client version must still print.
    assert cli.main(["version", "--client", "--kubeconfig", "/nonexistent"]) == ExitCode.OK
    assert capsys.readouterr().out.startswith("kubectl-bluegreen ")


# --- actions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "action"),
    [
        (["abort", "shop"], "abort"),
        (["rollback", "shop"], "rollback"),
        (["extend-hold", "shop", "300"], "extend-hold:300"),
        (["extend-hold", "shop", "1h"], "extend-hold:3600"),
    ],
)
def test_actions_write_the_annotation(argv: list[str], action: str) -> None:
    api = FakeReleases(holding())
    code, out, _ = invoke(api, *argv)
    assert code == ExitCode.OK
    annotations = api.objects[("shop", "shop")]["metadata"]["annotations"]
    assert annotations == {ACTION_ANNOTATION: f"{action}@n0nce"}
    assert out == f"bluegreenrelease.bluegreen.dev/shop {action} requested\n"


def test_actions_keep_other_annotations() -> None:
    obj = holding()
    obj["metadata"]["annotations"] = {"team": "payments"}
    api = FakeReleases(obj)
    invoke(api, "abort", "shop")
    assert api.objects[("shop", "shop")]["metadata"]["annotations"] == {
        "team": "payments",
        ACTION_ANNOTATION: "abort@n0nce",
    }


def test_promote_approves_the_current_revision() -> None:
    api = FakeReleases(with_status(holding(), phase="AwaitingPromotion", revision="77aa"))
    code, _, err = invoke(api, "promote", "shop")
    assert code == ExitCode.OK
    assert err == ""
    annotations = api.objects[("shop", "shop")]["metadata"]["annotations"]
    assert annotations == {ACTION_ANNOTATION: "promote:77aa@n0nce"}


def test_promote_of_a_stale_release_writes_nothing() -> None:
    obj = with_status(holding(), phase="AwaitingPromotion")
    obj["metadata"]["generation"] = 8
    api = FakeReleases(obj)
    code, _, err = invoke(api, "promote", "shop")
    assert code == ExitCode.ERROR
    assert "observedGeneration" in err
    assert "annotations" not in api.objects[("shop", "shop")]["metadata"]


def test_promote_outside_the_gate_warns_but_writes() -> None:
    api = FakeReleases(holding())
    code, _, err = invoke(api, "promote", "shop")
    assert code == ExitCode.OK
    assert "not AwaitingPromotion" in err


def test_namespace_flag_overrides_the_context_default() -> None:
    obj = holding()
    obj["metadata"]["namespace"] = "prod"
    api = FakeReleases(obj)
    assert invoke(api, "rollback", "shop", "-n", "prod")[0] == ExitCode.OK
    assert invoke(api, "-n", "prod", "rollback", "shop")[0] == ExitCode.OK
    with pytest.raises(ReleaseNotFoundError):
        invoke(api, "rollback", "shop")


# --- status, history -----------------------------------------------------------


def test_status_prints_the_tree_once() -> None:
    api = FakeReleases(holding())
    api.owned = {"deployments": (deployment("5d8f9c2a1b", 3),), "pods": (pod("5d8f9c2a1b", "a"),)}
    code, out, _ = invoke(api, "status", "shop")
    assert code == ExitCode.OK
    assert out.startswith("BlueGreenRelease  shop/shop  Holding")
    assert "│   └── Deployment  shop-5d8f9c2a1b  3/3 ready" in out
    assert "9m30s left" in out
    assert "\x1b[" not in out  # not a terminal: no colour, no styles
    assert api.follows == []


def test_status_on_a_terminal_is_coloured_unless_told_not_to() -> None:
    _, out, _ = invoke(FakeReleases(holding()), "status", "shop", out=Tty())
    assert "\x1b[" in out
    con = console(Tty())
    con.color = False
    _, out, _ = invoke(FakeReleases(holding()), "status", "shop", con=con)
    assert "\x1b[" not in out


def test_history_prints_the_table() -> None:
    code, out, _ = invoke(FakeReleases(holding()), "history", "shop")
    assert code == ExitCode.OK
    assert out.splitlines()[0].split() == ["REVISION", "IMAGE", "STARTED", "DURATION", "OUTCOME"]


def test_wait_returns_at_once_when_already_ready() -> None:
    api = FakeReleases(ready(holding()), ends=False)
    code, out, _ = invoke(api, "status", "shop", "--wait")
    assert code == ExitCode.OK
    assert "BlueGreenRelease  shop/shop  Complete" in out
    assert api.follows == [("shop", "shop", False)]


def test_wait_follows_the_release_until_ready() -> None:
    api = FakeReleases(with_status(holding(), phase="Switching", message="switching"), ends=False)
    replicas_moved = with_status(holding(), message="holding")
    replicas_moved["status"]["active"]["readyReplicas"] = 2
    api.updates = [with_status(holding(), message="holding"), replicas_moved, ready(holding())]
    code, out, _ = invoke(api, "status", "shop", "--wait", "--timeout", "30")
    assert code == ExitCode.OK
    # One line per change of phase or message; the replica-only event adds none.
    assert out.splitlines()[:4] == [
        "Switching: switching",
        "Holding: holding",
        "Complete: done",
        "BlueGreenRelease  shop/shop  Complete  revision 5d8f9c2a1b  generation 7 (observed 7)",
    ]


@pytest.mark.parametrize(
    "final",
    [
        with_status(holding(), phase="RolledBack"),
        with_status(holding(), phase="Failed"),
        with_condition(holding(), "Stalled", "True", "bad spec"),
    ],
)
def test_wait_exits_1_on_failure(final: dict[str, Any]) -> None:
    api = FakeReleases(holding(), ends=False)
    api.updates = [final, ready(holding())]
    code, _, _ = invoke(api, "status", "shop", "--wait")
    assert code == ExitCode.FAILED
    assert len(api.updates) == 1  # stopped at the failure, did not read further


def test_wait_ignores_an_old_failure_until_the_new_spec_is_observed() -> None:
    stale = with_status(holding(), phase="Failed")
    stale["metadata"]["generation"] = 8
    fixed = ready(holding())
    fixed["metadata"]["generation"] = 8
    fixed["status"]["observedGeneration"] = 8
    api = FakeReleases(stale, ends=False)
    api.updates = [fixed]
    assert invoke(api, "status", "shop", "--wait")[0] == ExitCode.OK


def test_wait_times_out_with_2() -> None:
    api = FakeReleases(holding(), ends=False)
    api.updates = [with_status(holding(), message="still holding")]
    code, out, err = invoke(api, "status", "shop", "--wait", "--timeout", "0.2")
    assert code == ExitCode.TIMEOUT
    assert "timed out after 0s waiting for Ready" in err
    assert out.splitlines()[:2] == [
        "Holding: Holding previous revision 91ab23cd45",
        "Holding: still holding",
    ]
    assert "BlueGreenRelease  shop/shop  Holding" in out


def test_wait_ends_with_an_error_when_the_release_is_deleted() -> None:
    api = FakeReleases(holding(), ends=False)
    api.updates = [None]  # type: ignore[list-item]
    with pytest.raises(ReleaseNotFoundError, match="was deleted"):
        invoke(api, "status", "shop", "--wait")


def test_watch_prints_a_page_per_change_when_not_a_terminal() -> None:
    api = FakeReleases(holding())
    api.updates = [with_status(holding(), phase="Complete"), with_status(holding(), phase="Failed")]
    code, out, _ = invoke(api, "status", "shop", "--watch", "--timeout", "60")
    assert code == ExitCode.OK  # watching alone never judges the release
    headers = [line.split()[2] for line in out.splitlines() if line.startswith("BlueGreenRelease")]
    assert headers == ["Holding", "Complete", "Failed"]
    assert api.follows == [("shop", "shop", True)]  # the tree's Deployments and pods too


def test_watch_on_a_terminal_redraws_every_second_so_countdowns_move() -> None:
    # A release that does not change at all: only the redraws can move the countdown.
    api = FakeReleases(holding(), ends=False)
    clock = (NOW + timedelta(seconds=s) for s in itertools.count())
    con = console(Tty(), now=lambda: next(clock))
    con.redraw_seconds = 0.01
    code, out, _ = invoke(api, "status", "shop", "--watch", "--timeout", "0.5", con=con)
    assert code == ExitCode.OK
    countdowns = {
        line.split("left")[0].split()[-1]
        for line in out.replace("\x1b", "\n").splitlines()
        if "left (deleteAfter" in line
    }
    # 9m30s, 9m29s, ...: several different values drawn without a single watch event.
    assert len(countdowns) >= 3, out


def test_watch_and_wait_stop_on_ready() -> None:
    api = FakeReleases(holding(), ends=False)
    api.updates = [ready(holding()), with_status(holding(), phase="Failed")]
    code, out, _ = invoke(api, "status", "shop", "--watch", "--wait")
    assert code == ExitCode.OK
    assert out.count("BlueGreenRelease  shop/shop") == 2  # initial page and the ready one
    assert len(api.updates) == 1
