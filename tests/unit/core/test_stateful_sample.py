"""docs/examples/stateful-release-v{1,2}.yaml: what the real-node test applies and
what the stateful guide shows, valid specs whose hooks run the app's migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bluegreen.core.revision import compute_revision
from bluegreen.core.spec import parse_spec

REPO = Path(__file__).resolve().parents[3]
SAMPLES = {v: REPO / "docs" / "examples" / f"stateful-release-{v}.yaml" for v in ("v1", "v2")}
# The steps of `app.py --migrate` (app/app.py MIGRATIONS).
MIGRATION_STEPS = {"init", "expand", "contract"}


def hooks_of(version: str) -> dict[str, list[tuple[str, str, list[str]]]]:
    """point -> [(hook, image, args)] of a sample, after parsing."""
    spec = parse_spec(yaml.safe_load(SAMPLES[version].read_text(encoding="utf-8"))["spec"])
    out: dict[str, list[tuple[str, str, list[str]]]] = {}
    for point in ("preSwitch", "postSwitch", "postCleanup"):
        for hook in spec.hooks.at(point):
            (container,) = hook.template["template"]["spec"]["containers"]
            out.setdefault(point, []).append((hook.name, container["image"], container["args"]))
    return out


def test_v1_creates_the_table_and_v2_expands_then_contracts() -> None:
    assert hooks_of("v1") == {
        "preSwitch": [("create-table", "spacelift-app:v1", ["--migrate", "init"])]
    }
    assert hooks_of("v2") == {
        "preSwitch": [("add-column", "spacelift-app:v2", ["--migrate", "expand"])],
        "postCleanup": [("require-column", "spacelift-app:v2", ["--migrate", "contract"])],
    }
    steps = {args[-1] for v in SAMPLES for hooks in hooks_of(v).values() for *_, args in hooks}
    assert steps == MIGRATION_STEPS


def test_the_two_samples_are_two_revisions_of_one_release() -> None:
    v1, v2 = (yaml.safe_load(p.read_text(encoding="utf-8")) for p in SAMPLES.values())
    assert v1["metadata"] == v2["metadata"]
    assert compute_revision(v1["spec"]["template"]) != compute_revision(v2["spec"]["template"])
    for body in (v1, v2):
        (app,) = body["spec"]["template"]["spec"]["containers"]
        assert app["envFrom"] == [{"secretRef": {"name": "shop-db"}}]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_guide_quotes_each_sample_whole(version: str) -> None:
    sample = SAMPLES[version].read_text(encoding="utf-8")
    guide = (REPO / "docs" / "stateful-releases.md").read_text(encoding="utf-8")
    marker = f"<!-- sample: docs/examples/stateful-release-{version}.yaml -->\n```yaml\n"
    assert marker in guide
    assert guide.split(marker)[1].split("```\n<!-- end sample -->")[0] == sample
