"""Argument parsing, command wiring and exit codes, against a stateful fake API."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from typing import Any

import pytest
from plugin_samples import NOW, holding, with_condition, with_status

from bluegreen.plugin import cli
from bluegreen.plugin.client import ReleaseNotFoundError
from bluegreen.plugin.resource import ACTION_ANNOTATION, Obj
from bluegreen.plugin.verdict import ExitCode


class FakeReleases:
    """Keeps releases like an API server would; ``updates`` are what a watch will see."""

    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objects = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs}
        self.updates: list[dict[str, Any]] = []
        self.watch_timeouts: list[float | None] = []

    def get(self, namespace: str, name: str) -> Obj:
        try:
            return copy.deepcopy(self.objects[(namespace, name)])
        except KeyError:
            raise ReleaseNotFoundError(f"{namespace}/{name}") from None

    def patch_annotations(self, namespace: str, name: str, patch: dict[str, Any]) -> Obj:
        obj = self.objects.get((namespace, name))
        if obj is None:
            raise ReleaseNotFoundError(f"{namespace}/{name}")
        assert set(patch) == {"metadata"} and set(patch["metadata"]) == {"annotations"}
        obj["metadata"].setdefault("annotations", {}).update(patch["metadata"]["annotations"])
        return copy.deepcopy(obj)

    def watch(self, namespace: str, name: str, timeout: float | None) -> Iterator[Obj]:
        self.watch_timeouts.append(timeout)
        while self.updates:
            obj = self.updates.pop(0)
            self.objects[(namespace, name)] = obj
            yield copy.deepcopy(obj)
        # No more changes: the watch runs out, as at the timeout.


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def console(out: io.StringIO | None = None) -> cli.Console:
    return cli.Console(
        out=out or io.StringIO(), err=io.StringIO(), now=lambda: NOW, nonce=lambda: "n0nce"
    )


def invoke(
    api: FakeReleases, *argv: str, out: io.StringIO | None = None
) -> tuple[ExitCode, str, str]:
    args = cli.build_parser().parse_args(argv)
    con = console(out)
    code = cli.run(args, api, "shop", con)
    assert isinstance(con.out, io.StringIO) and isinstance(con.err, io.StringIO)
    return code, con.out.getvalue(), con.err.getvalue()


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    return with_condition(with_status(obj, phase="Complete", message="done"), "Ready", "True")


# --- parsing -----------------------------------------------------------------


def test_flags_may_follow_the_command() -> None:
    args = cli.build_parser().parse_args(
        ["status", "shop", "-n", "prod", "--context", "c", "--watch", "--timeout", "10m"]
    )
    parsed = (args.command, args.name, args.namespace, args.context)
    assert parsed == ("status", "shop", "prod", "c")
    assert args.watch and not args.wait
    assert args.timeout == 600.0


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


def test_main_reports_a_broken_kubeconfig(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "kubeconfig"
    bogus.write_text("not: [a kubeconfig")
    assert cli.main(["status", "shop", "--kubeconfig", str(bogus)]) == ExitCode.ERROR
    assert capsys.readouterr().err.startswith("error:")


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
    with pytest.raises(ReleaseNotFoundError):
        invoke(api, "rollback", "shop")


# --- status, history -----------------------------------------------------------


def test_status_prints_once() -> None:
    api = FakeReleases(holding())
    code, out, _ = invoke(api, "status", "shop")
    assert code == ExitCode.OK
    assert out.startswith("Name:        shop\n")
    assert "9m30s left" in out
    assert api.watch_timeouts == []


def test_history_prints_the_table() -> None:
    code, out, _ = invoke(FakeReleases(holding()), "history", "shop")
    assert code == ExitCode.OK
    assert out.splitlines()[0].split() == ["REVISION", "IMAGE", "STARTED", "DURATION", "OUTCOME"]


def test_wait_returns_at_once_when_already_ready() -> None:
    api = FakeReleases(ready(holding()))
    code, out, _ = invoke(api, "status", "shop", "--wait")
    assert code == ExitCode.OK
    assert api.watch_timeouts == []
    assert "Phase:       Complete" in out


def test_wait_follows_the_release_until_ready() -> None:
    api = FakeReleases(with_status(holding(), phase="Switching", message="switching"))
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
        "Name:        shop",
    ]
    assert api.watch_timeouts == [30.0]


def test_wait_defaults_to_a_bounded_timeout() -> None:
    api = FakeReleases(holding())
    invoke(api, "status", "shop", "--wait")
    assert api.watch_timeouts == [cli.DEFAULT_WAIT_TIMEOUT]


@pytest.mark.parametrize(
    "final",
    [
        with_status(holding(), phase="RolledBack"),
        with_status(holding(), phase="Failed"),
        with_condition(holding(), "Stalled", "True", "bad spec"),
    ],
)
def test_wait_exits_1_on_failure(final: dict[str, Any]) -> None:
    api = FakeReleases(holding())
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
    api = FakeReleases(stale)
    api.updates = [fixed]
    assert invoke(api, "status", "shop", "--wait")[0] == ExitCode.OK


def test_wait_times_out_with_2() -> None:
    api = FakeReleases(holding())
    api.updates = [with_status(holding(), message="still holding")]
    code, out, err = invoke(api, "status", "shop", "--wait", "--timeout", "5")
    assert code == ExitCode.TIMEOUT
    assert "timed out after 5s" in err
    assert "Message:     still holding" in out


def test_watch_rerenders_each_event_and_ends_with_the_watch() -> None:
    api = FakeReleases(holding())
    api.updates = [with_status(holding(), phase="Complete"), with_status(holding(), phase="Failed")]
    code, out, _ = invoke(api, "status", "shop", "--watch", "--timeout", "60")
    assert code == ExitCode.OK  # watching alone never judges the release
    assert [line for line in out.splitlines() if line.startswith("Phase:")] == [
        "Phase:       Holding",
        "Phase:       Complete",
        "Phase:       Failed",
    ]
    assert cli.CLEAR_SCREEN not in out


def test_watch_clears_the_screen_on_a_terminal() -> None:
    api = FakeReleases(holding())
    api.updates = [with_status(holding(), phase="Complete")]
    _, out, _ = invoke(api, "status", "shop", "--watch", out=Tty())
    assert out.count(cli.CLEAR_SCREEN) == 2
    assert api.watch_timeouts == [None]


def test_watch_and_wait_stop_on_ready() -> None:
    api = FakeReleases(holding())
    api.updates = [ready(holding()), with_status(holding(), phase="Failed")]
    code, out, _ = invoke(api, "status", "shop", "--watch", "--wait")
    assert code == ExitCode.OK
    assert out.count("Name:        shop") == 2  # initial page and the ready one, no extra
