"""BENCHMARKS.md's Scale section, rendered from bench/results (``make bench-scale-report``).

Built from whichever of these exist (a missing kind is reported as not measured):

- ``compare-bluegreen-<N>-r<replicas>-s<shards>.json`` (``python -m bench.scale``) and
  ``scale-<N>-<shards>.json`` (the scale runs of ``python -m bench``): N releases at
  once; of two runs of the same workload, the newer file counts;
- ``compare-argo-<N><label>.json`` (``python -m bench.compare.argo_rollouts``): the same
  switch on Argo Rollouts; no label is its default settings, a label one changed
  setting (``-delay1``: ``scaleDownDelaySeconds: 1``);
- ``article-flow-<time>.json`` (``python -m bench.article_flow``): the newest.

``python -m bench.scale_report --write BENCHMARKS.md`` replaces the section in place,
from its ``## Scale:`` heading up to the next ``## `` heading.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.harness import REPO

from bench.report import _ms, _ratio
from bench.scale import TARGETS

HEADING = "## Scale: reads from watch caches, many releases at once, and Argo Rollouts"
HEADING_PREFIX = "## Scale:"
BLUEGREEN_FILE = re.compile(r"compare-bluegreen-\d+-r\d+-s\d+\.json|scale-\d+-\d+\.json")
ARGO_FILE = re.compile(r"compare-argo-(?P<releases>\d+)(?P<label>.*)\.json")
ARTICLE_FILES = "article-flow-*.json"

Run = dict[str, Any]
Value = float | None


# -- formatting ------------------------------------------------------------------


def _duration(ms: Value) -> str:
    """As report.py writes milliseconds below a second; seconds above, where 12697 ms
    reads worse than 12.7 s."""
    if ms is None or ms < 1000:
        return _ms(ms)
    seconds = ms / 1000
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _seconds(value: Value) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def _mib(value: Value) -> str:
    return "n/a" if value is None else f"{value:.1f} MiB"


def _plain(value: Value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _count(value: int) -> str:
    """Thousands apart, as the rest of BENCHMARKS.md writes counts: 9 486."""
    return f"{value:,}".replace(",", " ")


def _ratio_to(measured: Value, other: Value) -> str:
    return "n/a" if other is None or other == 0 else _ratio(measured, other)


def _met(holds: bool | None) -> str:
    if holds is None:
        return "not measured"
    return "met" if holds else "**not met**"


def _at_most(measured: Value, bound: Value) -> bool | None:
    return None if measured is None or bound is None else measured <= bound


def _load_average(start: list[float] | None, end: list[float] | None = None) -> str:
    """The 1-minute load average, at the start and (if recorded) the end of a run."""
    if not start:
        return "n/a"
    return f"{start[0]:.1f}" + (f" → {end[0]:.1f}" if end else "")


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


# -- the figures -------------------------------------------------------------------


def _dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or None where a level is missing (older result files)."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _peak_rss(run: Run) -> Value:
    peaks = [v for v in (run.get("operator_peak_rss_mib") or {}).values() if v is not None]
    return max(peaks) if peaks else None


def _operator_cpu_ms(run: Run) -> Value:
    seconds = run.get("operator_cpu_s_per_release")
    return None if seconds is None else seconds * 1000


def _apiserver_cpu_ms(run: Run) -> Value:
    seconds = run.get("apiserver_cpu_s_per_release")
    return None if seconds is None else seconds * 1000


@dataclass(frozen=True)
class Figure:
    """One figure of both sides: how to read it from each result, and how to write it."""

    label: str
    ours: Callable[[Run], Value]
    theirs: Callable[[Run], Value]
    show: Callable[[Value], str]


def _latency(ours: str, theirs: str, percentile: str, label: str) -> Figure:
    return Figure(
        f"{label}, {percentile}",
        lambda run: _dig(run, ours, percentile),
        lambda argo: _dig(argo, "v2", "latency_ms", theirs, percentile),
        _duration,
    )


SPEC_P50 = _latency("spec_to_switch_ms", "spec_to_switch", "p50", "spec change → selector switched")
SPEC_P99 = _latency("spec_to_switch_ms", "spec_to_switch", "p99", "spec change → selector switched")
AVAILABLE_P50 = _latency(
    "available_to_switch_ms", "available_to_switch", "p50", "candidate Available → selector patched"
)
AVAILABLE_P99 = _latency(
    "available_to_switch_ms", "available_to_switch", "p99", "candidate Available → selector patched"
)
REQUESTS = Figure(
    "API requests per release (audit log)",
    lambda run: run.get("requests_per_release"),
    lambda argo: _dig(argo, "v2", "requests", "per_release"),
    _plain,
)
PEAK_RSS = Figure(
    "peak RSS (VmHWM)",
    _peak_rss,
    lambda argo: _dig(argo, "v2", "controller_vmhwm_mib"),
    _mib,
)
CPU = Figure(
    "CPU per release",
    _operator_cpu_ms,
    lambda argo: _dig(argo, "v2", "controller_cpu_ms_per_release"),
    _ms,
)
COMPARED = (SPEC_P50, SPEC_P99, AVAILABLE_P50, AVAILABLE_P99, REQUESTS, PEAK_RSS, CPU)
# The targets, by their key in bench.scale.TARGETS.
TARGETED = (
    (REQUESTS, "requests_per_release", ""),
    (PEAK_RSS, "peak_rss_mib", " MiB"),
    (AVAILABLE_P99, "available_to_switch_p99_ms", " ms"),
)
# "No worse than Argo Rollouts on latency and API requests per release".
AGAINST_ARGO = (SPEC_P99, AVAILABLE_P99, REQUESTS)


# -- the result files ----------------------------------------------------------------


def _replicas(run: Run) -> str:
    drawn = sorted(int(n) for n in run.get("replicas_drawn") or {})
    if not drawn:
        return "n/a"
    return str(drawn[0]) if drawn[0] == drawn[-1] else f"{drawn[0]}-{drawn[-1]} drawn"


def _replicas_per(replicas: str, what: str) -> str:
    return f"{replicas} replica{'' if replicas == '1' else 's'} per {what}"


def _differs(run: Run, argo: Run) -> str:
    """A note where the two sides ran different workloads."""
    if _replicas(run) == str(argo.get("replicas")):
        return ""
    return " The replicas differ: the comparison is indicative only."


def _run_load(run: Run) -> str:
    return _load_average(run.get("load_average_at_start"), run.get("load_average_at_end"))


def _bluegreen_source(run: Run) -> str:
    return (
        f"`{run['file']}`, {_replicas_per(_replicas(run), 'release')}, "
        f"load average {_run_load(run)}"
    )


def _argo_source(argo: Run) -> str:
    return (
        f"{argo.get('argo_rollouts_version', '')} `{argo['file']}`, "
        f"{_replicas_per(str(argo.get('replicas')), 'Rollout')}, "
        f"`scaleDownDelaySeconds: {argo.get('scale_down_delay_seconds')}`, load average "
        f"{_load_average(_dig(argo, 'machine', 'load_average_at_start'))}"
    )


def _newest_first(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def bluegreen_runs(results: Path) -> list[Run]:
    """Every BlueGreenRelease scale run, one per workload (releases, shards, replicas)."""
    runs: dict[tuple[int, int, str], Run] = {}
    paths = [p for p in results.glob("*.json") if BLUEGREEN_FILE.fullmatch(p.name)]
    for path in _newest_first(paths):
        run = {**json.loads(path.read_text()), "file": path.name}
        runs.setdefault((run["releases"], run.get("shards", 1), _replicas(run)), run)
    return [runs[key] for key in sorted(runs)]


def argo_runs(results: Path) -> dict[int, dict[str, Run]]:
    """Argo Rollouts runs by number of Rollouts, then by label ("" for its defaults)."""
    runs: dict[int, dict[str, Run]] = {}
    for path in sorted(results.glob("compare-argo-*.json")):
        named = ARGO_FILE.fullmatch(path.name)
        if named:
            run = {**json.loads(path.read_text()), "file": path.name}
            runs.setdefault(int(named["releases"]), {})[named["label"]] = run
    return runs


def _one_per_count(runs: list[Run], replicas: str | None = None) -> dict[int, Run]:
    """One single-shard run per N: of ``replicas`` if given and measured, else the drawn
    replicas (the scale workload), else any."""

    def preference(run: Run) -> tuple[bool, bool]:
        return (_replicas(run) == replicas, "drawn" in _replicas(run))

    chosen: dict[int, Run] = {}
    for run in sorted(runs, key=preference, reverse=True):
        if run.get("shards", 1) == 1:
            chosen.setdefault(run["releases"], run)
    return dict(sorted(chosen.items()))


# -- the section -----------------------------------------------------------------------


def section(results: Path) -> list[str]:
    """The section's lines, ending with a blank one, as report.py's sections do."""
    runs, argo = bluegreen_runs(results), argo_runs(results)
    growth = _one_per_count(runs)
    largest = growth[max(growth)] if growth else None
    return [
        HEADING,
        "",
        *_method(),
        *_targets(largest, argo),
        *_growth(growth),
        *_side_by_side(runs, argo),
        *_shards([r for r in runs if r.get("shards", 1) > 1]),
        *_breakdown(largest),
        *_article(_newest_article(results)),
    ]


def render(results: Path) -> str:
    """The markdown of the whole section, from its heading to the blank line that ends it."""
    return "\n".join(section(results)) + "\n"


def _method() -> list[str]:
    return [
        "`python -m bench.scale --releases N --replicas 0` (`bench/scale.py`) creates N",
        "releases over 10 namespaces on KWOK nodes of their own (replicas drawn from 1-3, no",
        "checks, hold 0, Terraform off: `--infrastructure kubernetes`, Services through plain",
        "API calls), waits for all to be Ready on v1, changes all to v2 at once and measures",
        "the v2 phase. Since the watch caches (`adapters/caches.py`), a step reads nothing",
        "from the API server. API requests are counted **from the API server's audit log**",
        "by the operator's user agents (`bluegreen-operator/<version>` and kopf's), in the",
        "bench's namespaces plus cluster-wide ones; CPU seconds of each process from",
        "`/proc/<pid>/stat` over the v2 phase; peak RSS is the kernel's high-water mark",
        "(VmHWM). Latencies are nearest-rank percentiles over the bench's own watch events.",
        "`make bench-compare` switches the same way N blue/green Rollouts of Argo Rollouts",
        "(`bench/compare/argo_rollouts.py`). The load average (1 minute) is the machine's when",
        "a run started → when its v2 phase ended: a figure measured while other work",
        "competed for the cores includes the wait for one. Rendered by",
        "`make bench-scale-report` from `bench/results/`.",
        "",
    ]


def _not_measured(what: str) -> list[str]:
    return [f"Not measured: {what}.", ""]


NO_SINGLE_SHARD = (
    "no single-shard run (`compare-bluegreen-<N>-r<replicas>-s1.json` or `scale-<N>-1.json`)"
)


def _targets(run: Run | None, argo: dict[int, dict[str, Run]]) -> list[str]:
    if run is None:
        return ["### Against the targets", "", *_not_measured(NO_SINGLE_SHARD)]
    count = run["releases"]
    other = argo.get(count, {}).get("")
    targets = {**TARGETS, **(run.get("targets") or {})}
    lines = [
        f"### Against the targets at {count} releases on one replica",
        "",
        f"BlueGreenRelease: {_bluegreen_source(run)}. "
        + (
            f"Argo Rollouts: {_argo_source(other)}.{_differs(run, other)}"
            if other
            else f"Argo Rollouts at {count}: not measured."
        ),
        "",
        _row(
            "figure",
            "target",
            "BlueGreenRelease",
            "ratio to target",
            "Argo Rollouts",
            "ratio to Argo",
            "verdict",
        ),
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for figure, key, unit in TARGETED:
        lines.append(_target_row(figure, targets[key], unit, run, other))
    lines.append(_nothing_lost_row(run))
    lines += [_against_argo_row(figure, run, other) for figure in AGAINST_ARGO]
    return [*lines, ""]


def _target_row(figure: Figure, target: float, unit: str, run: Run, other: Run | None) -> str:
    ours = figure.ours(run)
    theirs = figure.theirs(other) if other else None
    return _row(
        figure.label,
        f"≤ {target:g}{unit}",
        figure.show(ours),
        _ratio_to(ours, target),
        figure.show(theirs) if other else "not measured",
        _ratio_to(ours, theirs),
        _met(_at_most(ours, target)),
    )


def _nothing_lost_row(run: Run) -> str:
    """A result exists only once every release was Ready on v1 and then on v2 (the bench
    fails otherwise); a missing row is a release whose switch its watches never saw."""
    count, missing = run["releases"], run.get("missing_rows")
    measured = "n/a" if missing is None else f"{count - missing} of {count}, {missing} missing"
    return _row(
        "all Ready after v1 and after v2, nothing lost",
        "0 missing",
        measured,
        "",
        "",
        "",
        _met(None if missing is None else missing == 0),
    )


def _against_argo_row(figure: Figure, run: Run, other: Run | None) -> str:
    ours = figure.ours(run)
    theirs = figure.theirs(other) if other else None
    return _row(
        f"no worse than Argo Rollouts: {figure.label}",
        "≤ Argo Rollouts",
        figure.show(ours),
        "",
        figure.show(theirs) if other else "not measured",
        _ratio_to(ours, theirs),
        _met(_at_most(ours, theirs)),
    )


def _growth(growth: dict[int, Run]) -> list[str]:
    if not growth:
        return ["### Growth on one replica", "", *_not_measured(NO_SINGLE_SHARD)]
    lines = [
        "### Growth on one replica: " + " → ".join(str(n) for n in growth) + " releases",
        "",
        _row(
            "releases",
            "replicas",
            "all Ready on v1",
            "all Ready on v2",
            "Available → selector p50 / p90 / p99",
            "spec → switch p50 / p99",
            "API requests per release",
            "operator CPU per release",
            "API server CPU per release",
            "operator peak RSS (VmHWM)",
            "load average",
        ),
        "|---:|---|" + "---:|" * 9,
    ]
    for count, run in growth.items():
        lines.append(
            _row(
                str(count),
                _replicas(run),
                _seconds(run.get("v1_ready_s")),
                _seconds(run.get("all_ready_v2_s")),
                _percentiles(run.get("available_to_switch_ms"), "p50", "p90", "p99"),
                _percentiles(run.get("spec_to_switch_ms"), "p50", "p99"),
                _plain(run.get("requests_per_release")),
                _ms(_operator_cpu_ms(run)),
                _ms(_apiserver_cpu_ms(run)),
                _mib(_peak_rss(run)),
                _run_load(run),
            )
        )
    return [*lines, ""]


def _percentiles(summary: dict[str, Any] | None, *which: str) -> str:
    return " / ".join(_duration((summary or {}).get(p)) for p in which)


def _side_by_side(runs: list[Run], argo: dict[int, dict[str, Run]]) -> list[str]:
    lines = ["### Side by side with Argo Rollouts", ""]
    if not argo:
        return [*lines, *_not_measured("no `compare-argo-<N>.json` (`make bench-compare`)")]
    for count, variants in sorted(argo.items()):
        default = variants.get("")
        if default is None:
            lines += _not_measured(f"Argo Rollouts at {count} with its default settings")
            continue
        ours = _one_per_count(runs, str(default.get("replicas")))
        if count not in ours:
            lines += _not_measured(
                f"a single-shard BlueGreenRelease run of {count} releases, "
                f"beside `{default['file']}`"
            )
            continue
        lines += _comparison(ours[count], default)
        for label, variant in sorted(variants.items()):
            lines += [_variant(label, variant), ""] if label else []
    return lines


def _comparison(run: Run, argo: Run) -> list[str]:
    rows = [
        _row(
            f.label,
            f.show(f.ours(run)),
            f.show(f.theirs(argo)),
            _ratio_to(f.ours(run), f.theirs(argo)),
        )
        for f in COMPARED
        if f.theirs(argo) is not None
    ]
    lines = [
        f"**{run['releases']} releases.** BlueGreenRelease: {_bluegreen_source(run)}. "
        f"Argo Rollouts: {_argo_source(argo)}.{_differs(run, argo)}",
        "",
        _row("figure", "BlueGreenRelease", "Argo Rollouts", "ratio BlueGreenRelease / Argo"),
        "|---|---:|---:|---:|",
        *rows,
        "",
    ]
    left = _dig(argo, "after_v2", "v1_replicasets_still_scaled_up")
    if left:
        lines += [
            f"After v2, {left} of Argo's v1 ReplicaSets were still scaled up (with "
            "`scaleDownDelaySeconds: 0` v1.10.1 never scales them down: "
            "argoproj/argo-rollouts#1992), and its controller used "
            f"{_dig(argo, 'after_v2', 'controller_cpu_s')} s of CPU in "
            f"{_dig(argo, 'after_v2', 'seconds')} s of quiet.{_without_cleanup(run)}",
            "",
        ]
    return lines


def _without_cleanup(run: Run) -> str:
    """Argo's count has no request for the old version it never removed; ours has one."""
    deletes = (run.get("requests") or {}).get("delete deployments")
    per_release = run.get("requests_per_release")
    if not deletes or not isinstance(per_release, (int, float)):
        return ""
    removal = deletes / run["releases"]
    return (
        " Its request count therefore has nothing for removing the previous version, "
        f"where the operator's has the previous Deployment's delete ({removal:.2f} per "
        f"release): without it, {per_release - removal:.2f} per release."
    )


def _variant(label: str, argo: Run) -> str:
    return (
        f"Argo Rollouts with `{label.lstrip('-')}` (`{argo['file']}`): spec change → selector "
        f"switched p50 / p99 {_duration(SPEC_P50.theirs(argo))} / "
        f"{_duration(SPEC_P99.theirs(argo))}, {_plain(REQUESTS.theirs(argo))} API requests "
        f"per Rollout, {_ms(CPU.theirs(argo))} of controller CPU per Rollout."
    )


def _shards(runs: list[Run]) -> list[str]:
    lines = ["### Shards", ""]
    if not runs:
        return [*lines, *_not_measured("no run with more than one shard (`--shards`)")]
    lines += [
        "One operator process per shard (`--shards`, `--shard-index`, leader election per",
        "shard), all watching the same namespaces; the API server's audit log says which",
        "shard wrote in which namespace.",
        "",
        _row(
            "releases",
            "shards",
            "all Ready on v2",
            "Available → selector p50 / p99",
            "API requests per release",
            "peak RSS per shard (VmHWM)",
            "writers per namespace",
            "load average",
        ),
        "|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for run in runs:
        peaks = run.get("operator_peak_rss_mib") or {}
        lines.append(
            _row(
                str(run["releases"]),
                str(run["shards"]),
                _seconds(run.get("all_ready_v2_s")),
                _percentiles(run.get("available_to_switch_ms"), "p50", "p99"),
                _plain(run.get("requests_per_release")),
                ", ".join(f"{name} {_mib(peak)}" for name, peak in peaks.items()) or "n/a",
                _writers(run),
                _run_load(run),
            )
        )
    return [*lines, ""]


def _writers(run: Run) -> str:
    """Every namespace written by exactly one shard, or the namespaces that were not."""
    writers = run.get("writers_per_namespace") or {}
    if not writers:
        return "not recorded"
    shared = writers.get("written_by_more_than_one") or []
    if shared:
        return "**written by more than one shard**: " + ", ".join(f"`{ns}`" for ns in shared)
    written, spaces = writers.get("namespaces", 0), run.get("namespaces")
    return (
        f"each of {written} namespaces (of {spaces}) by exactly one shard; "
        f"{len(writers.get('shards_seen') or [])} shards wrote"
    )


def _breakdown(run: Run | None) -> list[str]:
    if run is None or not run.get("requests"):
        return []
    count = run["releases"]
    requests = sorted(run["requests"].items(), key=lambda item: (-item[1], item[0]))
    return [
        f"### API requests per release at {count} releases (audit log, v2 phase)",
        "",
        _row("request", "per release"),
        "|---|---:|",
        *(_row(f"`{name}`", f"{n / count:.2f}") for name, n in requests),
        _row("**all**", f"**{sum(n for _, n in requests) / count:.2f}**"),
        "",
    ]


# -- the article's flow ------------------------------------------------------------------

FLOWS = (("terraform", "Terraform"), ("bluegreenrelease", "BlueGreenRelease"))
ARTICLE_HEADING = "### The article's manual flow against one BlueGreenRelease"


def _newest_article(results: Path) -> Run | None:
    paths = sorted(results.glob(ARTICLE_FILES))
    if not paths:
        return None
    return {**json.loads(paths[-1].read_text()), "file": paths[-1].name}


def _article(flow: Run | None) -> list[str]:
    if flow is None:
        return [
            ARTICLE_HEADING,
            "",
            *_not_measured("no `article-flow-<time>.json` (`make bench-article`)"),
        ]
    load = flow.get("load") or {}
    tail = load.get("tail_s", 5)
    lines = [
        ARTICLE_HEADING,
        "",
        "`make bench-article` (`bench/article_flow.py`; not in `make test` or CI) releases the",
        "demo app (`spacelift-app:v1` → `:v2`, 3 replicas on the real node) twice, one flow",
        "after the other, each in its own namespace. **Terraform by hand**:",
        "`bench/article/main.tf` (the namespace, a NodePort Service, Deployments",
        "`spacelift-app-v1`/`-v2` selected by `app`) applied four times with the toolchain's",
        "Terraform and the offline provider mirror, local state, each apply started as soon",
        "as the previous one returned. **One BlueGreenRelease**: the operator as a local",
        "process with `--infrastructure terraform`, the release applied with v1 then v2",
        "(smoke check through the preview Service, hold "
        f'{_dig(flow, "bluegreenrelease", "hold_seconds") or 2} s), "Complete" = phase',
        "Complete, Ready, the v1 Deployment gone. Load: "
        f"{load.get('workers', 4)} threads, a new connection per request",
        "(`tests/e2e/traffic.py`), to the Service's NodePort on the node's address from the",
        f"moment the Service has one until {tail:g} s after the last step; a request counts in",
        "the step it started in.",
        *_control(flow),
        f"Run of `{flow['file']}`, load average {_run_load(flow)}:",
        "",
        _row("step", "wall time", "sent", "failed", "of which before the first answer"),
        "|---|---:|---:|---:|---:|",
    ]
    for key, title in FLOWS:
        if flow.get(key):
            lines += _flow_rows(title, flow[key]["steps"], tail)
    return [*lines, "", *_article_after(flow)]


def _control(flow: Run) -> list[str]:
    control = flow.get("control") or {}
    # Beside "target", one window of figures per flow.
    windows = [w for w in control.values() if isinstance(w, dict)]
    if not windows:
        return []
    sent = sum(w.get("sent", 0) for w in windows)
    failed = sum(w.get("failed", 0) for w in windows)
    return [
        "A control load on a steady NodePort Service (nothing changing behind it) ran",
        f"throughout: **{_count(failed)} failed of {_count(sent)}**.",
    ]


def _flow_rows(title: str, steps: list[dict[str, Any]], tail: float) -> list[str]:
    """A row per step, then the tail after the last step; for Terraform, the steps from
    v1 to v2 (all but the first) together."""
    *done, after = steps
    rows = [
        _row(
            f"{title} {step['step']}",
            _step_wall(step),
            _count(step["sent"]),
            _count(step["failed"]),
            _count(step["failed_before_first_answer"]),
        )
        for step in done
    ]
    rows.append(
        _row(
            f"{title}, {tail:g} s after",
            "",
            _count(after["sent"]),
            _count(after["failed"]),
            _count(after["failed_before_first_answer"]),
        )
    )
    if title == "Terraform" and len(done) > 2:
        upgrade = done[1:]
        rows.append(
            _row(
                f"{title}, v1 → v2 (steps 2-{len(done)})",
                _seconds(sum(step["wall_s"] for step in upgrade)),
                _count(sum(step["sent"] for step in upgrade)),
                _count(sum(step["failed"] for step in upgrade)),
                "",
            )
        )
    return rows


def _step_wall(step: dict[str, Any]) -> str:
    switched = step.get("selector_switched_after_s")
    wall = _seconds(step["wall_s"])
    return wall if switched is None else f"{wall} (switch at {_seconds(switched)})"


def _article_after(flow: Run) -> list[str]:
    lines = [line for line in (_flaps(flow), _errors(flow)) if line] + [""]
    human = flow.get("human_steps") or {}
    counted = [
        f"{title} **{human[key]['total']}** ({human[key].get('edits')} edits, "
        f"{human[key].get('commands')} commands, {human[key].get('checks')} checks)"
        for key, title in FLOWS
        if key in human
    ]
    if counted:
        lines += [f"Human steps (counted, not measured): {'; '.join(counted)}:", ""]
        lines += [f"- {title}: {human[key]['counted']}" for key, title in FLOWS if key in human]
        lines.append("")
    return lines


def _flaps(flow: Run) -> str:
    flaps = {
        title: _dig(flow, key, "switch", "v1_answers_after_first_v2")
        for key, title in FLOWS
        if flow.get(key)
    }
    if not any(flaps.values()):
        return "No flow sent a v1 answer after the first v2 one."
    return (
        "v1 answers after the first v2 one: "
        + ", ".join(f"{title} {n}" for title, n in flaps.items())
        + "."
    )


def _errors(flow: Run) -> str:
    """The failed requests by kind, per flow: ``ConnectionRefused`` and its kin."""
    parts = []
    for key, title in FLOWS:
        kinds: dict[str, int] = {}
        for step in _dig(flow, key, "steps") or []:
            for kind, n in (step.get("errors") or {}).items():
                kinds[kind] = kinds.get(kind, 0) + n
        if kinds:
            ordered = sorted(kinds.items(), key=lambda item: -item[1])
            parts.append(f"{title} " + ", ".join(f"`{k}` {_count(n)}" for k, n in ordered))
    return "Failed requests by kind: " + "; ".join(parts) + "." if parts else ""


# -- in place -----------------------------------------------------------------------------


def replace_section(document: str, rendered: str) -> str:
    """``document`` with its Scale section (from the ``## Scale:`` line up to the next
    ``## `` heading, or the end) replaced by ``rendered``; everything else as it was."""
    lines = document.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(HEADING_PREFIX)), None)
    if start is None:
        raise ValueError(f"no line starting with {HEADING_PREFIX!r}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "".join(lines[:start]) + rendered + "".join(lines[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_report", description=__doc__)
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument(
        "--write",
        type=Path,
        metavar="BENCHMARKS.md",
        help="replace the Scale section of this file in place (else: print the section)",
    )
    args = parser.parse_args(argv)
    rendered = render(args.results)
    if args.write is None:
        print(rendered, end="")
        return 0
    # Bytes, not text: line endings and everything outside the section stay as they were.
    document = args.write.read_bytes().decode()
    try:
        updated = replace_section(document, rendered)
    except ValueError as err:
        parser.error(f"{args.write}: {err}")
    args.write.write_bytes(updated.encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
