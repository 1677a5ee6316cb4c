"""The ``status`` tree: what each line says, where it hangs, and how it is coloured."""

from __future__ import annotations

import io
from typing import Any

from plugin_samples import NOW, deployment, holding, job, pod, with_status
from rich.console import Console

from bluegreen.plugin.client import View
from bluegreen.plugin.tree import BAD, DIM, GOOD, MOVING, WAITING, build_tree, condition_style

ESC = "\x1b["


def plain(view: View) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=4096, color_system=None, soft_wrap=True).print(build_tree(view, NOW))
    return [line.rstrip() for line in out.getvalue().splitlines()]


def holding_view() -> View:
    obj = holding()
    obj["status"]["checks"][0]["revision"] = "5d8f9c2a1b"
    obj["status"]["checks"][1]["revision"] = "5d8f9c2a1b"
    return View(
        release=obj,
        deployments=(deployment("5d8f9c2a1b", 3), deployment("91ab23cd45", 3)),
        pods=(
            pod("5d8f9c2a1b", "a"),
            pod("5d8f9c2a1b", "b", ready=False, restarts=4),
            pod("91ab23cd45", "c"),
        ),
        jobs=(job("5d8f9c2a1b", "e2e"),),
    )


def test_the_tree_hangs_pods_under_deployments_under_revisions() -> None:
    lines = plain(holding_view())
    assert lines[0] == (
        "BlueGreenRelease  shop/shop  Holding  revision 5d8f9c2a1b  generation 7 (observed 7)"
    )
    assert lines[1] == "├── Holding previous revision 91ab23cd45"
    assert lines[2] == "├── active  5d8f9c2a1b  shop:v2  3/3 ready  switched 4m ago"
    assert lines[3] == (
        "│   ├── Deployment  shop-5d8f9c2a1b  3/3 ready  3 updated  3 available  age 5m"
    )
    assert lines[4] == (
        "│   │   ├── ✔  Pod  shop-5d8f9c2a1b-a  Ready  Running  age 4m  kwok-node-0"
    )
    assert lines[5] == (
        "│   │   └── ✖  Pod  shop-5d8f9c2a1b-b  NotReady  CrashLoopBackOff  4 restarts  age 4m"
        "  kwok-node-0"
    )
    assert lines[6] == ("│   ├── ✔  check  home  smoke/http  Passed  1 attempt  2m ago  200 OK")
    assert lines[7] == "│   ├── ◌  check  e2e  hold/job  Running  2 attempts  15s ago"
    assert lines[8] == (
        "│   └── Job  shop-5d8f9c2a1b-e2e-1  for check e2e  Running (1 active)  age 1m"
    )
    assert lines[9] == (
        "├── previous  91ab23cd45  shop:v1  9m30s left (deleteAfter 2026-11-26T12:09:30Z)"
    )
    assert lines[10].startswith("│   └── Deployment  shop-91ab23cd45")
    assert lines[11].startswith("│       └── ✔  Pod  shop-91ab23cd45-c")
    assert lines[12] == "├── Conditions"
    assert lines[13] == "│   ├── Ready  False  Holding  30s  Hold ends in 9m30s"
    assert lines[-2] == ("├── Infrastructure  applied  inputs 0123456789ab  last apply 1h ago")
    assert lines[-1] == "└── Last action  promote 5d8f9c2a1b  -> Accepted  1m ago"


def test_the_countdown_moves_with_the_clock() -> None:
    out = io.StringIO()
    later = NOW.replace(minute=9)
    Console(file=out, width=4096, color_system=None).print(build_tree(holding_view(), later))
    assert "30s left (deleteAfter 2026-11-26T12:09:30Z)" in out.getvalue()


def test_a_finished_job_and_a_failed_revision() -> None:
    obj = with_status(
        holding(),
        failedRevision="77aa",
        checks=[
            {"name": "e2e", "stage": "smoke", "kind": "job", "revision": "77aa", "phase": "Failed"}
        ],
    )
    view = View(release=obj, jobs=(job("77aa", "e2e", "Failed"),))
    lines = plain(view)
    failed = lines.index("├── failed  77aa")
    assert lines[failed + 1] == "│   ├── ✖  check  e2e  smoke/job  Failed  0 attempts  -"
    assert lines[failed + 2] == ("│   └── Job  shop-77aa-e2e-1  for check e2e  Failed  age 1m")


def test_a_deployment_no_status_names_still_shows() -> None:
    view = View(release=holding(), deployments=(deployment("0ld0ld", 0, 2),))
    lines = plain(view)
    at = lines.index("├── revision  0ld0ld")
    assert lines[at + 1].startswith("│   └── Deployment  shop-0ld0ld  0/2 ready")


def test_a_stale_status_and_an_approval_say_so() -> None:
    obj = with_status(holding(), approvedRevision="77aa")
    obj["metadata"]["generation"] = 8
    header = plain(View(release=obj))[0]
    assert "approved 77aa" in header
    assert "generation 8 (observed 7)  status is stale" in header


def test_what_could_not_be_read_is_shown_not_fatal() -> None:
    view = View(release=holding(), problems=("pods: forbidden: pods is forbidden",))
    assert plain(view)[-1] == "└── cannot show pods: forbidden: pods is forbidden"


def test_a_fresh_or_malformed_release_does_not_crash() -> None:
    fresh = View(release={"metadata": {"name": "new", "namespace": "ns", "generation": 1}})
    assert plain(fresh)[0] == (
        "BlueGreenRelease  ns/new  Unknown  revision -  generation 1 (observed none)"
        "  status is stale: the operator has not caught up with the spec"
    )
    broken: dict[str, Any] = with_status(
        holding(), checks="oops", conditions=[None, 3], active=[], previous=None
    )
    lines = plain(View(release=broken, pods=({"status": "x"},), deployments=({},)))
    assert not any("active" in line for line in lines)


def test_colour_marks_good_and_bad_news() -> None:
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="standard", width=200).print(
        build_tree(holding_view(), NOW)
    )
    drawn = out.getvalue()
    assert f"{ESC}32m✔" in drawn  # a ready pod, green
    assert f"{ESC}1;31m4 restarts" in drawn  # restarts, bold red


def test_migration_hooks_hang_under_their_revision_with_their_job() -> None:
    view = holding_view()
    view.release["status"]["hooks"] = [
        {
            "name": "migrate",
            "point": "preSwitch",
            "revision": "5d8f9c2a1b",
            "phase": "Succeeded",
            "job": "shop-5d8f9c2a1b-hook-migrate-1",
            "message": "Job succeeded",
            "finishedAt": "2026-11-26T11:57:00Z",
        },
        {"name": "contract", "point": "postCleanup", "revision": "5d8f9c2a1b", "phase": "Pending"},
    ]
    hook_job = job("5d8f9c2a1b", "x", "Complete")
    hook_job["metadata"]["name"] = "shop-5d8f9c2a1b-hook-migrate-1"
    del hook_job["metadata"]["labels"]["bluegreen.dev/check"]
    lines = plain(View(**{**view.__dict__, "jobs": (*view.jobs, hook_job)}))
    assert (
        "│   ├── ✔  hook  migrate  preSwitch  Succeeded  Job shop-5d8f9c2a1b-hook-migrate-1"
        "  (Job: Succeeded)  3m ago  Job succeeded"
    ) in lines
    assert "│   ├── ◌  hook  contract  postCleanup  Pending  -" in lines
    # The hook's Job is shown on the hook's line, not again as a loose Job.
    assert not any("Job  shop-5d8f9c2a1b-hook-migrate-1" in line for line in lines)


def test_condition_styles() -> None:
    assert condition_style("Stalled", "True") == BAD
    assert condition_style("Stalled", "False") == DIM
    assert condition_style("InfrastructureDrifted", "True") == WAITING
    assert condition_style("InfrastructureDrifted", "False") == DIM
    assert condition_style("Reconciling", "True") == MOVING
    assert condition_style("Ready", "True") == GOOD
    assert condition_style("Ready", "False") == WAITING
    assert condition_style("Ready", "Unknown") == DIM
