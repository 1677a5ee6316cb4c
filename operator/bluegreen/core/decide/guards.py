"""Objects the release does not own: stall before touching them, warn when they expose it."""

from __future__ import annotations

from bluegreen.core import names
from bluegreen.core.conditions import FALSE, TRUE, ConditionType
from bluegreen.core.decide import record
from bluegreen.core.decide.view import ReleaseView
from bluegreen.core.decision import Draft


def foreign_object_named(view: ReleaseView, draft: Draft) -> bool:
    """Stall, touching nothing, when the spec names an object that is not ours.

    A Service is taken over only when a human annotated it for this release;
    then the infrastructure step adopts it (``provisioning.provision``).
    """
    observed = view.observed
    for role, service in (("stable", observed.stable), ("preview", observed.preview)):
        if service is None or not service.exists or service.owned or service.adoptable:
            continue
        record.stall_once(
            draft,
            "ServiceNotOwned",
            f"{role} Service {service.name} exists and was not created by this release; "
            f"it is left untouched (annotate it {names.ADOPT_ANNOTATION}={view.ctx.name} "
            "to hand it over, or name another Service)",
        )
        return True
    wanted = names.deployment_name(view.ctx.name, view.desired)
    if wanted in observed.foreign_deployments and view.desired not in observed.deployments:
        record.stall_once(
            draft,
            "DeploymentNotOwned",
            f"Deployment {wanted} exists and is not controlled by this release; "
            "it is left untouched",
        )
        return True
    return False


def report_exposure(view: ReleaseView, draft: Draft) -> None:
    """Warn when another Service's selector matches the release's pods.

    Such a Service sends its traffic to every revision, candidates included,
    before any check passed: the switch no longer controls who is served.
    """
    exposing = view.observed.exposing_services
    if not exposing:
        record.condition(
            view,
            draft,
            ConditionType.ISOLATED,
            TRUE,
            "OwnServicesOnly",
            "only this release selects its pods",
        )
        return
    message = (
        f"Service(s) {', '.join(exposing)} also select this release's pods: they "
        "reach candidates before any check; narrow their selectors or the "
        "template's labels"
    )
    current = draft.status.condition(ConditionType.ISOLATED)
    if current is None or current.status != FALSE or current.message != message:
        draft.event("SelectedByOtherService", message, warning=True)
    record.condition(view, draft, ConditionType.ISOLATED, FALSE, "SelectedByOtherService", message)
