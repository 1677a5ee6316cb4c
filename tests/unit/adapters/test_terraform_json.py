"""Reading Terraform's output: the JSON it prints, and the text of commands that have none.

Every input here is Terraform 1.5.7's real output (``terraform_fixtures``),
except where a test says it builds a variant to probe a bound.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from terraform_fixtures import captured

from bluegreen.adapters.infrastructure import InfrastructureError
from bluegreen.adapters.terraform import diagnostics, json_documents
from bluegreen.adapters.terraform.diagnostics import Diagnostic
from bluegreen.adapters.terraform.locks import LOCK_INFO_ANNOTATION, held_lock
from bluegreen.adapters.terraform.module import declared_variables, module_variables
from bluegreen.adapters.terraform.redaction import REDACTED, scrub, sensitive_values
from bluegreen.core import tfstate
from bluegreen.core.infrastructure import InfrastructureInputs

MODULE = Path(__file__).resolve().parents[3] / "terraform"
INPUTS = InfrastructureInputs(
    release="shop",
    release_namespace="team-a",
    namespace="team-a",
    create_namespace=False,
    service_name="shop",
    service_type="ClusterIP",
    service_port=80,
    target_port=5000,
    preview_service_name="shop-preview",
)


# -- plans (terraform show -json) ---------------------------------------------


def test_a_plan_on_an_empty_state_creates_both_services() -> None:
    plan = captured("show-create").json()
    assert [c.describe() for c in json_documents.resource_changes(plan)] == [
        "kubernetes_service_v1.preview will be created",
        "kubernetes_service_v1.stable will be created",
    ]


def test_drift_names_the_edited_service_only() -> None:
    plan = captured("show-drift").json()
    assert json_documents.describe_changes(plan) == (
        "kubernetes_service_v1.stable will be updated in-place"
    )


def test_a_replacement_and_a_new_namespace_are_described_as_terraform_words_them() -> None:
    changes = json_documents.resource_changes(captured("show-replace").json())
    assert {c.address: c.actions for c in changes} == {
        "kubernetes_namespace_v1.this[0]": ("create",),
        "kubernetes_service_v1.preview": ("update",),
        "kubernetes_service_v1.stable": ("delete", "create"),
    }
    assert "kubernetes_service_v1.stable must be replaced" in [c.describe() for c in changes]


def test_the_saved_plan_is_checked_against_the_uids_judged_ours() -> None:
    # core.tfstate reads change.before of the same document.
    plan = captured("show-drift").json()
    judged = {
        "kubernetes_service_v1.stable": "uid-of-stable",
        "kubernetes_service_v1.preview": "uid-of-preview",
    }
    assert tfstate.unexpected_targets(plan, judged) == []
    replaced = {**judged, "kubernetes_service_v1.stable": "uid-of-a-newer-object"}
    assert tfstate.unexpected_targets(plan, replaced) == ["kubernetes_service_v1.stable"]


def test_a_plan_in_an_unknown_format_is_refused() -> None:
    plan = {**captured("show-drift").json(), "format_version": "2.0"}
    with pytest.raises(InfrastructureError, match=r"plan format 2\.0"):
        json_documents.resource_changes(plan)


def test_unknown_actions_still_read_clearly() -> None:
    plan = {"format_version": "1.2", "resource_changes": [{"address": "x.y", "change": {}}]}
    assert json_documents.resource_changes(plan) == []
    plan["resource_changes"] = [{"address": "x.y", "change": {"actions": ["forget"]}}]
    assert json_documents.describe_changes(plan) == "x.y will change (forget)"


# -- outputs (terraform output -json) ------------------------------------------


def test_outputs_of_an_applied_state() -> None:
    outputs = json_documents.outputs(captured("output-applied").json(), INPUTS)
    assert (outputs.stable_service, outputs.preview_service) == ("shop", "shop-preview")
    assert (outputs.stable_cluster_ip, outputs.preview_cluster_ip) == ("10.96.0.10", "10.96.0.11")


def test_missing_outputs_fall_back_to_the_inputs_or_stay_unknown() -> None:
    partial = json_documents.outputs(captured("output-partial").json(), INPUTS)
    assert partial.stable_cluster_ip is None and partial.preview_cluster_ip is None
    empty = json_documents.outputs({}, INPUTS)
    assert (empty.stable_service, empty.preview_service) == ("shop", "shop-preview")


# -- diagnostics from -json ----------------------------------------------------


def test_the_validation_error_is_read_and_the_warning_is_not_the_failure() -> None:
    found = diagnostics.from_json_stream(captured("plan-invalid-variable").stdout)
    assert [(d.severity, d.summary) for d in found] == [
        ("warning", "Value for undeclared variable"),
        ("error", "Invalid value for variable"),
    ]
    summary = diagnostics.failure_summary(found)
    assert summary == (
        "Invalid value for variable: "
        "service_type must be one of ClusterIP, NodePort or LoadBalancer."
    )
    # The snippet quotes the value ("var.service_type is \"Bogus\""); it is never read.
    assert "Bogus" not in summary


def test_resource_errors_name_their_address_and_count_the_others() -> None:
    found = diagnostics.from_json_stream(captured("apply-unreachable").stdout)
    assert [d.address for d in found] == [
        "kubernetes_service_v1.stable",
        "kubernetes_service_v1.preview",
    ]
    summary = diagnostics.failure_summary(found)
    assert summary.startswith("kubernetes_service_v1.stable: Post ")
    assert "connection refused" in summary
    assert summary.endswith("(and 1 more error)")


def test_a_flag_error_of_a_json_command_is_json_too() -> None:
    found = diagnostics.from_json_stream(captured("plan-bad-flag").stdout)
    assert diagnostics.failure_summary(found) == (
        "Failed to parse command-line flags: flag provided but not defined: -bogus"
    )


def test_the_lock_error_is_recognized_from_its_summary() -> None:
    found = diagnostics.from_json_stream(captured("plan-locked").stdout)
    assert diagnostics.is_lock_error(found)
    assert not diagnostics.is_lock_error(
        diagnostics.from_json_stream(captured("plan-invalid-variable").stdout)
    )


def test_a_successful_plan_has_no_diagnostics_and_non_json_lines_are_skipped() -> None:
    stream = captured("plan-drift").stdout
    assert diagnostics.from_json_stream(stream) == []
    assert diagnostics.from_json_stream("panic: boom\n[1, 2]\n" + stream) == []


# -- diagnostics of commands without -json ---------------------------------------


def test_text_diagnostics_of_import() -> None:
    found = diagnostics.from_text(captured("import-unknown-address").stderr)
    address = '"kubernetes_service_v1.nope"'
    assert [(d.severity, d.summary) for d in found] == [
        ("error", f"resource address {address} does not exist in the configuration.")
    ]
    assert found[0].detail.startswith("Before importing this resource")


def test_text_lock_error_of_state_rm() -> None:
    found = diagnostics.from_text(captured("state-rm-locked").stderr)
    assert diagnostics.is_lock_error(found)
    assert found[0].detail.startswith("Error message: resource temporarily unavailable")


def test_text_diagnostics_drop_boxes_colors_and_snippets() -> None:
    # The colored rendering of the validation error: what a command prints
    # without -no-color (the adapter always passes it; the parser copes anyway).
    rendered = "\n".join(
        [
            "\x1b[31m\u2577\x1b[0m",
            "\x1b[31m\u2502\x1b[0m \x1b[1m\x1b[31mError: \x1b[0mInvalid value for variable",
            "\u2502",
            "\u2502   on inputs.tfvars.json line 9:",
            '\u2502    9:   "service_type": "Bogus",',
            "\u2502     \u251c\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500",
            '\u2502     \u2502 var.service_type is "Bogus"',
            "\u2502",
            "\u2502 service_type must be one of ClusterIP, NodePort or LoadBalancer.",
            "\u2502",
            "\u2502 This was checked by the validation rule at variables.tf:51,3-13.",
            "\u2575",
        ]
    )
    found = diagnostics.from_text(rendered)
    assert diagnostics.failure_summary(found) == (
        "Invalid value for variable: "
        "service_type must be one of ClusterIP, NodePort or LoadBalancer."
    )


def test_text_without_a_diagnostic_heading_is_still_an_error() -> None:
    usage_error = "Error parsing command-line flags: flag provided but not defined: -json"
    found = diagnostics.from_text(f"{usage_error}\n\n")
    assert found == [Diagnostic("error", usage_error)]
    assert diagnostics.from_text("") == []
    assert diagnostics.failure_summary([]) == "terraform failed without an error message"


# -- summaries are bounded and secret-free ---------------------------------------


def test_the_summary_is_bounded() -> None:
    long = Diagnostic("error", "boom", "x " * 5000)
    summary = diagnostics.failure_summary([long])
    assert len(summary) == diagnostics.MAX_SUMMARY_CHARS
    assert summary.endswith("\u2026")
    assert len(diagnostics.failure_summary([long] * 3, limit=50)) <= 50


def test_secrets_are_redacted_before_the_cut() -> None:
    secret = "s3cr3t-" + "k" * 40
    found = [Diagnostic("error", "bad credentials", f"{'x' * 580} {secret}")]
    summary = diagnostics.failure_summary(found, [secret])
    assert "s3cr3t" not in summary


def test_sensitive_and_secret_looking_variables_are_redacted() -> None:
    variables = {
        "db_password": "hunter22",
        "labels": {"team": "blue"},
        "api_token": ["tok-123456"],
        "cert": "PEMDATA",
        "service_port": 80,
    }
    secrets = sensitive_values(variables, sensitive_names={"cert"})
    assert set(secrets) == {"hunter22", "tok-123456", "PEMDATA"}
    found = [Diagnostic("error", "bad", "connecting with hunter22, tok-123456, PEMDATA for blue")]
    summary = diagnostics.failure_summary(found, secrets)
    assert summary.count(REDACTED) == 3 and "blue" in summary
    assert scrub("x abcdef y", sensitive_values({"secret_a": "abc", "secret_b": "abcdef"}, ())) == (
        f"x {REDACTED} y"
    )


# -- the lock, from its Lease (JSON written by the kubernetes backend) -------------


def lease(holder: str | None, info: object) -> dict[str, object]:
    annotations = {} if info is None else {LOCK_INFO_ANNOTATION: json.dumps(info)}
    return {"metadata": {"annotations": annotations}, "spec": {"holderIdentity": holder}}


def test_the_held_lock_is_read_from_the_lease() -> None:
    # Terraform marshals Created with Go's RFC 3339 (nanoseconds, trailing zeros cut).
    info = {
        "ID": "5d3c2b7e",
        "Operation": "OperationTypeApply",
        "Who": "root@pod",
        "Version": "1.5.7",
        "Created": "2026-11-26T07:01:02.123456789Z",
        "Path": "",
        "Info": "",
    }
    lock = held_lock(lease("5d3c2b7e", info))
    assert lock is not None and lock.id == "5d3c2b7e"
    assert lock.created == datetime(2026, 11, 26, 7, 1, 2, 123456, tzinfo=UTC)
    assert lock.age_seconds(datetime(2026, 11, 26, 7, 2, 2, 123456, tzinfo=UTC)) == 60


def test_a_free_or_unreadable_lock() -> None:
    assert held_lock(None) is None
    assert held_lock(lease(None, None)) is None
    unreadable = (
        None,
        "not json",
        {"ID": "other", "Created": "2026-01-01T00:00:00Z"},  # about another lock
        {"ID": "a", "Created": "yesterday"},
        {"ID": "a", "Created": "2026-01-01T00:00:00"},  # no zone: unknown instant
    )
    for info in unreadable:
        lock = held_lock(lease("a", info))
        assert lock is not None and lock.id == "a" and lock.created is None, info


# -- the module's variables (HCL source, not Terraform output) ---------------------


def test_declared_variables_agree_with_terraform() -> None:
    # Terraform's own reading of the module, from the same capture.
    config = captured("show-create").json()["configuration"]["root_module"]["variables"]
    declared = module_variables(MODULE)
    assert declared == {name: bool(v.get("sensitive")) for name, v in config.items()}
    assert set(INPUTS.terraform_variables()) <= set(declared)


def test_declared_variables_sees_the_sensitive_flag() -> None:
    source = (
        'variable "token" {\n  type      = string\n  sensitive = true\n}\n\n'
        'variable "port" {\n  type = number\n}\n'
    )
    assert declared_variables([source]) == {"token": True, "port": False}


def test_init_meeting_a_held_lock_is_a_lock_error() -> None:
    # The kubernetes backend's own words when init would create the first state.
    found = diagnostics.from_text(captured("init-locked").stderr)
    assert diagnostics.is_lock_error(found)
    assert "already locked by another terraform client" in diagnostics.failure_summary(found)
