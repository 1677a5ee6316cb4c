"""bench/scale_report.py: BENCHMARKS.md's Scale section from small synthetic result files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report, scale_report


def _summary(p50: float, p99: float) -> dict[str, Any]:
    return {"n": 10, "min": p50 / 2, "p50": p50, "p90": (p50 + p99) / 2, "p99": p99}


def _bluegreen(
    results: Path,
    releases: int,
    *,
    shards: int = 1,
    replicas: int = 0,
    requests_per_release: float = 14.0,
    available_p99: float = 400.0,
    missing_rows: int = 0,
    writers: dict[str, Any] | None = None,
) -> None:
    """What ``python -m bench.scale`` writes, with the keys the section reads."""
    drawn = {"1": releases // 2, "3": releases - releases // 2} if replicas == 0 else {"1": 1}
    run = {
        "releases": releases,
        "namespaces": 10,
        "shards": shards,
        "replicas_drawn": drawn,
        "all_ready_v2_s": releases / 10,
        "v1_ready_s": releases / 5,
        "available_to_switch_ms": _summary(200.0, available_p99),
        "spec_to_switch_ms": _summary(20_000.0, 25_000.0),
        "missing_rows": missing_rows,
        "requests_per_release": requests_per_release,
        "requests": {
            "patch bluegreenreleases/status": 4 * releases,
            "create events": 4 * releases,
            "patch services": 2 * releases,
        },
        "operator_cpu_s_per_release": 0.065,
        "apiserver_cpu_s_per_release": 0.22,
        "operator_peak_rss_mib": {f"operator-{i}": 100.0 + i for i in range(shards)},
        "writers_per_namespace": writers or {},
        "targets": {
            "requests_per_release": 15,
            "peak_rss_mib": 200,
            "available_to_switch_p99_ms": 500,
        },
        "load_average_at_start": [5.2, 4.0, 3.0],
        "load_average_at_end": [6.1, 5.0, 3.5],
    }
    name = f"compare-bluegreen-{releases}-r{replicas}-s{shards}.json"
    (results / name).write_text(json.dumps(run))


def _argo(results: Path, releases: int, *, per_release: float, label: str = "") -> None:
    """What ``python -m bench.compare.argo_rollouts`` writes, with the keys the section reads."""
    run = {
        "side": "argo-rollouts",
        "argo_rollouts_version": "v1.10.1",
        "releases": releases,
        "replicas": 1,
        "scale_down_delay_seconds": 1 if label else 0,
        "machine": {"load_average_at_start": [4.5, 4.0, 3.0]},
        "v2": {
            "latency_ms": {
                "spec_to_switch": _summary(16_000.0, 20_000.0),
                "available_to_switch": _summary(300.0, 3_000.0),
            },
            "controller_vmhwm_mib": 111.7,
            "controller_cpu_ms_per_release": 92.0,
            "requests": {"per_release": per_release},
        },
        "after_v2": {"seconds": 10.0, "controller_cpu_s": 4.2, "v1_replicasets_still_scaled_up": 0},
    }
    (results / f"compare-argo-{releases}{label}.json").write_text(json.dumps(run))


def _table(text: str, heading: str) -> list[list[str]]:
    """The cells of the table below the subsection that starts with ``heading``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("### "):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


def _row(rows: list[list[str]], figure: str) -> list[str]:
    return next(row for row in rows if row[0] == figure)


def test_growth_has_a_row_per_release_count_in_ascending_order(tmp_path: Path) -> None:
    for releases in (1000, 100, 300):
        _bluegreen(tmp_path, releases)
    _bluegreen(tmp_path, 500, shards=3)  # a sharded run is no growth row

    rows = _table(scale_report.render(tmp_path), "### Growth")

    assert [row[0] for row in rows] == ["100", "300", "1000"]
    assert rows[0][1] == "1-3 drawn"
    assert rows[0][2:4] == ["20.0 s", "10.0 s"]
    assert rows[0][4] == "200 ms / 300 ms / 400 ms"
    assert rows[0][-1] == "5.2 → 6.1"


def test_the_targets_are_read_at_the_largest_single_shard_count(tmp_path: Path) -> None:
    _bluegreen(tmp_path, 100)
    _bluegreen(tmp_path, 300, requests_per_release=16.0)
    _bluegreen(tmp_path, 1000, shards=3)

    text = scale_report.render(tmp_path)

    assert "### Against the targets at 300 releases on one replica" in text
    assert _row(_table(text, "### Against the targets"), "API requests per release (audit log)")[
        2
    ] == ("16.00")


def test_ratio_to_argo_is_computed_and_shown(tmp_path: Path) -> None:
    _bluegreen(tmp_path, 100, replicas=1, requests_per_release=15.0)
    _argo(tmp_path, 100, per_release=12.0)

    text = scale_report.render(tmp_path)

    side = _table(text, "### Side by side with Argo Rollouts")
    assert _row(side, "API requests per release (audit log)")[1:] == ["15.00", "12.00", "1.25x"]
    assert _row(side, "spec change → selector switched, p50")[1:] == [
        "20.0 s",
        "16.0 s",
        "1.25x",
    ]
    targets = _table(text, "### Against the targets")
    assert _row(targets, "API requests per release (audit log)")[4:] == [
        "12.00",
        "1.25x",
        "met",
    ]
    assert _row(targets, "no worse than Argo Rollouts: API requests per release (audit log)")[
        -1
    ] == ("**not met**")


def test_the_side_by_side_prefers_the_run_of_argos_replicas(tmp_path: Path) -> None:
    _bluegreen(tmp_path, 100, replicas=0, requests_per_release=14.0)
    _bluegreen(tmp_path, 100, replicas=1, requests_per_release=13.0)
    _argo(tmp_path, 100, per_release=13.0)

    text = scale_report.render(tmp_path)

    side = _table(text, "### Side by side with Argo Rollouts")
    assert _row(side, "API requests per release (audit log)")[1:] == ["13.00", "13.00", "1.00x"]
    # The growth table keeps the scale workload, replicas drawn.
    assert _table(text, "### Growth")[0][1] == "1-3 drawn"


def test_an_argo_variant_is_reported_beside_the_default(tmp_path: Path) -> None:
    _bluegreen(tmp_path, 100, replicas=1)
    _argo(tmp_path, 100, per_release=12.0)
    _argo(tmp_path, 100, per_release=11.0, label="-delay1")

    text = scale_report.render(tmp_path)

    assert "Argo Rollouts with `delay1` (`compare-argo-100-delay1.json`)" in text
    assert "11.00 API requests per Rollout" in text


def test_a_missing_argo_file_gives_not_measured(tmp_path: Path) -> None:
    _bluegreen(tmp_path, 100)

    text = scale_report.render(tmp_path)

    targets = _table(text, "### Against the targets")
    assert _row(targets, "API requests per release (audit log)")[4:6] == ["not measured", "n/a"]
    assert _row(targets, "no worse than Argo Rollouts: API requests per release (audit log)")[
        -1
    ] == ("not measured")
    assert "Not measured: no `compare-argo-<N>.json`" in text


def test_no_result_at_all_renders_every_part_as_not_measured(tmp_path: Path) -> None:
    text = scale_report.render(tmp_path)

    assert text.startswith(scale_report.HEADING + "\n")
    assert text.count("Not measured:") == 5
    assert text.endswith("\n\n")


def test_a_target_not_met_is_marked_not_met(tmp_path: Path) -> None:
    _bluegreen(tmp_path, 1000, available_p99=900.0, missing_rows=2)

    targets = _table(scale_report.render(tmp_path), "### Against the targets")

    available = _row(targets, "candidate Available → selector patched, p99")
    assert available[1:4] == ["≤ 500 ms", "900 ms", "1.80x"]
    assert available[-1] == "**not met**"
    assert _row(targets, "peak RSS (VmHWM)")[-1] == "met"
    lost = _row(targets, "all Ready after v1 and after v2, nothing lost")
    assert lost[2] == "998 of 1000, 2 missing"
    assert lost[-1] == "**not met**"


def test_a_namespace_written_by_two_shards_is_shown(tmp_path: Path) -> None:
    _bluegreen(
        tmp_path,
        1000,
        shards=3,
        writers={
            "namespaces": 10,
            "written_by_more_than_one": ["bench-scale-ab-3"],
            "shards_seen": ["a", "b", "c"],
        },
    )
    _bluegreen(
        tmp_path,
        300,
        shards=2,
        writers={"namespaces": 10, "written_by_more_than_one": [], "shards_seen": ["a", "b"]},
    )

    rows = _table(scale_report.render(tmp_path), "### Shards")

    by_count = {row[0]: row for row in rows}
    assert by_count["1000"][6] == "**written by more than one shard**: `bench-scale-ab-3`"
    assert by_count["300"][6].startswith("each of 10 namespaces (of 10) by exactly one shard")
    assert by_count["1000"][5] == "operator-0 100.0 MiB, operator-1 101.0 MiB, operator-2 102.0 MiB"


def test_the_request_breakdown_is_per_release_and_sorted_by_count(tmp_path: Path) -> None:
    _bluegreen(tmp_path, 100)
    _bluegreen(tmp_path, 300)

    rows = _table(scale_report.render(tmp_path), "### API requests per release at 300")

    assert rows == [
        ["`create events`", "4.00"],
        ["`patch bluegreenreleases/status`", "4.00"],
        ["`patch services`", "2.00"],
        ["**all**", "**10.00**"],
    ]


def _step(name: str, wall: float, sent: int, failed: int, before: int) -> dict[str, Any]:
    return {
        "step": name,
        "wall_s": wall,
        "sent": sent,
        "failed": failed,
        "failed_before_first_answer": before,
        "errors": {"ConnectionRefused": failed} if failed else {},
    }


def test_the_article_flow_keeps_its_figures(tmp_path: Path) -> None:
    flow = {
        "load": {"workers": 4, "pause_s": 0.02, "tail_s": 5.0},
        "load_average_at_start": [8.4, 6.0, 5.0],
        "load_average_at_end": [13.5, 9.0, 6.0],
        "human_steps": {
            "terraform": {"edits": 4, "commands": 5, "checks": 2, "total": 11, "counted": "TF."},
            "bluegreenrelease": {
                "edits": 2,
                "commands": 3,
                "checks": 0,
                "total": 5,
                "counted": "BGR.",
            },
        },
        "terraform": {
            "steps": [
                _step("1. v1", 9.4, 1277, 991, 991),
                _step("2. add v2", 9.2, 852, 27, 0),
                _step("3. selector to v2", 2.0, 155, 0, 0),
                _step("4. remove v1", 2.1, 150, 0, 0),
                _step("after, 5 s", 5.0, 628, 0, 0),
            ],
            "switch": {"v1_answers_after_first_v2": 0},
        },
        "bluegreenrelease": {
            "hold_seconds": 2,
            "steps": [
                _step("v1: apply → Complete", 33.6, 4986, 4774, 4771),
                {
                    **_step("v2: apply → Complete", 31.8, 2262, 576, 0),
                    "selector_switched_after_s": 26.9,
                },
                _step("after, 5 s", 5.0, 210, 14, 0),
            ],
            "switch": {"v1_answers_after_first_v2": 0},
        },
        "control": {
            "target": "10.0.0.1:30080",
            "terraform": {"sent": 4000, "failed": 0},
            "bluegreenrelease": {"sent": 5486, "failed": 0},
        },
    }
    (tmp_path / "article-flow-20261101T000000Z.json").write_text(json.dumps({"old": True}))
    (tmp_path / "article-flow-20261202T142949Z.json").write_text(json.dumps(flow))

    text = scale_report.render(tmp_path)

    rows = {row[0]: row[1:] for row in _table(text, "### The article's manual flow")}
    assert rows["Terraform 1. v1"] == ["9.4 s", "1 277", "991", "991"]
    assert rows["Terraform, 5 s after"] == ["", "628", "0", "0"]
    assert rows["Terraform, v1 → v2 (steps 2-4)"] == ["13.3 s", "1 157", "27", ""]
    assert rows["BlueGreenRelease v2: apply → Complete"] == [
        "31.8 s (switch at 26.9 s)",
        "2 262",
        "576",
        "0",
    ]
    assert "Run of `article-flow-20261202T142949Z.json`, load average 8.4 → 13.5" in text
    assert "**0 failed of 9 486**" in text
    assert "Terraform **11** (4 edits, 5 commands, 2 checks)" in text
    assert "No flow sent a v1 answer after the first v2 one." in text


BEFORE = (
    "# Benchmarks\r\n\r\nIntro, with CRLF and trailing spaces   \n\n"
    "## Machine and versions\n\n| CPU | 2 |\n\n"
)
AFTER = "## Latency per release\n\n| interval |\n\n## Method\n\nno newline at the end"


def test_the_rewrite_replaces_only_the_scale_section(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    _bluegreen(results, 100)
    old = "## Scale: by hand\n\n### sub\n\n```sh\n# a comment\n```\n\nold text\n\n"
    document = tmp_path / "BENCHMARKS.md"
    document.write_bytes((BEFORE + old + AFTER).encode())

    assert scale_report.main(["--results", str(results), "--write", str(document)]) == 0

    written = document.read_bytes()
    rendered = scale_report.render(results).encode()
    assert written == BEFORE.encode() + rendered + AFTER.encode()
    assert b"old text" not in written


def test_the_rewrite_of_a_last_section_runs_to_the_end(tmp_path: Path) -> None:
    assert scale_report.replace_section(BEFORE + "## Scale: old\nold\n", "NEW\n") == (
        BEFORE + "NEW\n"
    )


def test_the_full_report_includes_the_section(tmp_path: Path) -> None:
    _bluegreen(tmp_path, 100)

    text = report.render(tmp_path)

    assert scale_report.render(tmp_path) in text
    assert text.index(scale_report.HEADING) < text.index("## Why, and what would cut it")


def test_argo_left_scaled_up_is_compared_without_our_removal_of_the_old_version(
    tmp_path: Path,
) -> None:
    _bluegreen(tmp_path, 100, replicas=1, requests_per_release=13.0)
    run_file = tmp_path / "compare-bluegreen-100-r1-s1.json"
    run = json.loads(run_file.read_text())
    run["requests"]["delete deployments"] = 100
    run_file.write_text(json.dumps(run))
    _argo(tmp_path, 100, per_release=12.5)
    argo_file = tmp_path / "compare-argo-100.json"
    argo = json.loads(argo_file.read_text())
    argo["after_v2"]["v1_replicasets_still_scaled_up"] = 100
    argo_file.write_text(json.dumps(argo))
    text = scale_report.render(tmp_path)
    assert "100 of Argo's v1 ReplicaSets were still scaled up" in text
    assert "previous Deployment's delete (1.00 per release): without it, 12.00 per release" in text
