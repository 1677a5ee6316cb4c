"""The scale subresource on the real API server: ``kubectl scale`` and the cluster's own
HorizontalPodAutoscaler controller drive spec.replicas, and the operator carries it to
the serving Deployment."""

from __future__ import annotations

from tests.integration.harness import App, Kubectl, Operator, Release, release, wait_for

NAME = "shop"


def serving_at(rel: Release, replicas: int) -> bool:
    """The active revision's Deployment asks for and has ``replicas`` ready pods, and
    status says it asks for them (what the scale subresource reports)."""
    active = rel.status().get("active") or {}
    deployment = rel.deployments().get(active.get("revision", ""), {})
    return (
        active.get("replicas") == replicas
        and deployment.get("spec", {}).get("replicas") == replicas
        and deployment.get("status", {}).get("readyReplicas") == replicas
    )


def test_kubectl_scale_and_an_hpa_drive_the_serving_deployment(
    k: Kubectl, namespace: str, operator: Operator, apps: dict[str, App]
) -> None:
    rel = Release(k, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1", replicas=1))
    rel.wait_condition("Ready")
    revision = rel.revision()

    scale = k.json("get", "bgr", NAME, "-n", namespace, "--subresource=scale")
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 1
    assert scale["status"]["replicas"] == 1
    assert scale["status"]["selector"] == (
        f"bluegreen.dev/release={NAME},bluegreen.dev/revision={revision}"
    )

    k.run("scale", "bgr", NAME, "-n", namespace, "--replicas=2")
    assert rel.get()["spec"]["replicas"] == 2
    wait_for("the serving Deployment at 2 ready", lambda: serving_at(rel, 2), timeout=60)
    # The template did not change: no new revision, no release, only the scale.
    assert rel.revision() == revision
    assert set(rel.deployments()) == {revision}

    # The cluster's HPA controller raises a target below minReplicas before it needs any
    # metric: the scale subresource alone lets it drive the release.
    k.apply(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": NAME, "namespace": namespace},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "bluegreen.dev/v1alpha1",
                    "kind": "BlueGreenRelease",
                    "name": NAME,
                },
                "minReplicas": 3,
                "maxReplicas": 5,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ],
            },
        }
    )
    wait_for("the HPA to raise spec.replicas", lambda: rel.get()["spec"]["replicas"] == 3, 120)
    wait_for("the serving Deployment at 3 ready", lambda: serving_at(rel, 3), timeout=60)
    hpa = k.json("get", "hpa", NAME, "-n", namespace)
    able = next(c for c in hpa["status"]["conditions"] if c["type"] == "AbleToScale")
    assert able["status"] == "True", able
    assert rel.condition("Ready")["status"] == "True"
