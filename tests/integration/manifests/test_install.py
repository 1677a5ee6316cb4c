"""``kubectl apply -k manifests/`` on the real cluster, then the operator with only its rights.

The operator runs as a local process (KWOK nodes run no containers) holding
nothing but a token of the ``bluegreen-operator`` ServiceAccount (in a
kubeconfig, or as a pod's in-cluster credentials), through a whole release:
v1, v2 with HTTP, Job and hold checks and a promote action, then deletion;
with Terraform and without, cluster-wide and per namespace, and once with the
Role of manifests/namespaced/. Every refused call fails the test, so the
roles are proven sufficient; ``kubectl auth can-i`` proves they are not more
than that.
"""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen.core import names
from tests.conftest import Cluster
from tests.integration.harness import App, Kubectl, Release, release, wait_for
from tests.integration.manifests.conftest import (
    MANIFESTS,
    SA_USER,
    SERVICE_ACCOUNT,
    SYSTEM_NAMESPACE,
    OperatorProcess,
    can_fake_a_pod,
    denied_lines,
    terraform_ready,
    token_kubeconfig,
)

NAME = "shop"
OPERATOR_LABEL = "app.kubernetes.io/name=bluegreen-operator"
JOB_CHECK: dict[str, Any] = {
    "name": "e2e",
    "job": {
        "template": {
            "template": {
                "spec": {"containers": [{"name": "e2e", "image": "checker:1", "command": ["true"]}]}
            }
        },
        "timeoutSeconds": 60,
    },
}


def _http(url: str, body: str) -> dict[str, Any]:
    return {"name": "home", "http": {"url": url, "path": "/", "expectBody": body}}


def test_apply_k_installs_every_object(installed: Kubectl) -> None:
    for kind, name in (
        ("crd", "bluegreenreleases.bluegreen.dev"),
        ("namespace", SYSTEM_NAMESPACE),
        ("clusterrole", "bluegreen-operator"),
        ("clusterrolebinding", "bluegreen-operator"),
        ("flowschema", "bluegreen-operator-leader-election"),
    ):
        assert installed.json("get", kind, name), f"{kind}/{name} missing"
    for kind, name in (
        ("serviceaccount", SERVICE_ACCOUNT),
        ("role", "bluegreen-operator-terraform-state"),
        ("rolebinding", "bluegreen-operator-terraform-state"),
        ("role", "bluegreen-operator-leader-election"),
        ("rolebinding", "bluegreen-operator-leader-election"),
        ("deployment", "bluegreen-operator"),
        ("service", "bluegreen-operator-metrics"),
        ("pdb", "bluegreen-operator"),
    ):
        assert installed.json("get", kind, name, "-n", SYSTEM_NAMESPACE), f"{kind}/{name} missing"
    # Applying again changes nothing: the manifests are stable under apply. kubectl
    # says "configured" for a PodDisruptionBudget every time (its selector's patch
    # strategy is "replace", so the patch is never empty); its resourceVersion
    # shows that nothing was written.
    pdb = ("get", "pdb", "bluegreen-operator", "-n", SYSTEM_NAMESPACE)
    pdb_version = installed.json(*pdb)["metadata"]["resourceVersion"]
    again = installed.run("apply", "-k", str(MANIFESTS))
    changed = [
        line
        for line in again.splitlines()
        if not line.endswith("unchanged") and not line.startswith("poddisruptionbudget.")
    ]
    assert changed == [], again
    assert installed.json(*pdb)["metadata"]["resourceVersion"] == pdb_version
    # docs/install.md's uninstall command resolves every object (dry run only:
    # other suites on the same cluster need the CRD).
    gone = installed.run("delete", "-k", str(MANIFESTS), "--dry-run=server")
    assert gone.count("(server dry run)") == 13, gone


def test_operator_deployment_passes_admission(installed: Kubectl) -> None:
    """The pod template is accepted by the API server in a "restricted" namespace.

    Whether a container then runs depends on the nodes: KWOK nodes only
    pretend, so only the ReplicaSet's pod is checked, not its readiness.
    """
    deploy = installed.json("get", "deployment", "bluegreen-operator", "-n", SYSTEM_NAMESPACE)
    assert deploy["spec"]["strategy"]["type"] == "RollingUpdate"
    wait_for(
        "the operator pod to be created (admission passed)",
        lambda: (
            installed.json(
                "get",
                "pods",
                "-n",
                SYSTEM_NAMESPACE,
                "-l",
                "app.kubernetes.io/name=bluegreen-operator",
            )
            or {}
        ).get("items"),
        timeout=60,
    )


def _can(k: Kubectl, *args: str) -> bool:
    out = k.run("auth", "can-i", *args, "--as", SA_USER, check=False).strip().splitlines()
    return bool(out) and out[0] == "yes"


@pytest.mark.parametrize(
    "request_args",
    [
        ("delete", "secrets", "-n", "default"),
        ("get", "secrets", "-n", "default"),
        ("list", "secrets", "--all-namespaces"),
        ("create", "clusterroles"),
        ("create", "clusterrolebindings"),
        ("create", "rolebindings", "-n", "default"),
        ("escalate", "clusterroles"),
        ("bind", "clusterroles"),
        ("impersonate", "users"),
        ("create", "serviceaccounts/token", "-n", SYSTEM_NAMESPACE),
        ("*", "*"),
        ("*", "*", "-n", SYSTEM_NAMESPACE),
        ("create", "pods", "-n", "default"),
        ("create", "pods/exec", "-n", "default"),
        ("update", "services", "-n", "default"),
        ("update", "bluegreenreleases.bluegreen.dev", "-n", "default"),
        ("delete", "bluegreenreleases.bluegreen.dev", "-n", "default"),
        ("create", "namespaces"),
        ("delete", "namespaces"),
        ("delete", "customresourcedefinitions"),
        ("update", "deployments", "-n", "default"),
        ("get", "leases.coordination.k8s.io", "-n", "kube-system"),
        ("create", "nodes"),
    ],
    ids=" ".join,
)
def test_service_account_is_denied(installed: Kubectl, request_args: tuple[str, ...]) -> None:
    assert not _can(installed, *request_args), f"{SA_USER} may {' '.join(request_args)}"


@pytest.mark.parametrize(
    "request_args",
    [
        ("patch", "bluegreenreleases.bluegreen.dev", "-n", "default"),
        ("patch", "bluegreenreleases.bluegreen.dev/status", "-n", "default"),
        ("create", "deployments.apps", "-n", "default"),
        ("patch", "services", "-n", "default"),
        ("watch", "endpointslices.discovery.k8s.io", "--all-namespaces"),
        ("create", "events", "-n", "default"),
        ("update", "secrets", "-n", SYSTEM_NAMESPACE),
        ("create", "leases.coordination.k8s.io", "-n", SYSTEM_NAMESPACE),
        # A migrated legacy state and a destroyed release's emptied state go.
        ("delete", "secrets", "-n", SYSTEM_NAMESPACE),
        ("delete", "leases.coordination.k8s.io", "-n", SYSTEM_NAMESPACE),
    ],
    ids=" ".join,
)
def test_service_account_is_allowed(installed: Kubectl, request_args: tuple[str, ...]) -> None:
    assert _can(installed, *request_args), f"{SA_USER} may not {' '.join(request_args)}"


def test_token_kubeconfig_is_really_the_service_account(sa_env: dict[str, str]) -> None:
    sa = Kubectl(sa_env)
    assert sa.run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == SA_USER
    # Secrets are out of reach outside the state namespace, with the real token too.
    refused = sa.run("get", "secrets", "-n", "default", check=False)
    assert "forbidden" in refused.lower(), refused
    rules = sa.run("auth", "can-i", "--list", "-n", SYSTEM_NAMESPACE)
    for line in rules.splitlines()[1:]:
        verbs = line[line.rfind("[") + 1 : line.rfind("]")].split()
        assert not line.startswith("*.") and "*" not in verbs, line


def _priority_level_of(kubeconfig: Path, path: str) -> str:
    """The UID of the API server's priority level that served a GET of ``path``, as
    the response says (it does for refusals and 404s too: the request is classified
    before it is authorized)."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    tls = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    ask = urllib.request.Request(
        cluster["server"] + path, headers={"Authorization": f"Bearer {user['token']}"}
    )
    try:
        with urllib.request.urlopen(ask, context=tls, timeout=30) as answer:
            headers = answer.headers
    except urllib.error.HTTPError as refused:
        headers = refused.headers
    return str(headers.get("X-Kubernetes-PF-PriorityLevel-UID", ""))


def test_lease_requests_are_in_the_leader_election_priority_level(
    installed: Kubectl, sa_kubeconfig: Path
) -> None:
    """Renewals don't queue behind the operator's own release work (manifests/base/
    flowschema.yaml): its Lease requests in its namespace go to the level of the
    Kubernetes controllers' elections, and nothing else of it does."""
    level = installed.json("get", "prioritylevelconfiguration", "leader-election")
    elections = level["metadata"]["uid"]
    leases = f"/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NAMESPACE}/leases"
    assert _priority_level_of(sa_kubeconfig, f"{leases}/bluegreen-operator") == elections
    assert _priority_level_of(sa_kubeconfig, leases) == elections
    others = (
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler",
        f"/apis/apps/v1/namespaces/{SYSTEM_NAMESPACE}/deployments",
        "/apis/bluegreen.dev/v1alpha1/bluegreenreleases",
    )
    for path in others:
        got = _priority_level_of(sa_kubeconfig, path)
        assert got, f"no priority level reported for {path}"
        assert got != elections, path


def test_samples_are_valid_releases(installed: Kubectl) -> None:
    """The samples pass the CRD's schema and CEL rules (server-side dry run).

    A dry run creates no namespace, so they are checked in a scratch one.
    """
    scratch = f"samples-{uuid.uuid4().hex[:6]}"
    installed.run("create", "namespace", scratch)
    try:
        for version in ("v1", "v2"):
            doc = (MANIFESTS / "samples" / f"{version}.yaml").read_text()
            doc = doc.replace("spacelift-demo", scratch)
            out = installed.run("apply", "--dry-run=server", "-f", "-", stdin=doc)
            assert "bluegreenrelease.bluegreen.dev/spacelift-app created" in out, out
    finally:
        installed.run("delete", "namespace", scratch, "--wait=false", check=False)


SCENARIOS = [
    pytest.param("kubernetes", "namespaced", id="kubernetes-namespaced"),
    pytest.param("kubernetes", "clusterwide", id="kubernetes-clusterwide"),
    pytest.param("terraform", "namespaced", id="terraform-namespaced"),
    pytest.param("terraform", "clusterwide", id="terraform-clusterwide"),
    # As the Deployment runs it: cluster-wide, Terraform, credentials of a pod.
    pytest.param("terraform", "in-cluster", id="terraform-in-cluster-credentials"),
]


@pytest.mark.parametrize(("infrastructure", "scope"), SCENARIOS)
def test_release_v1_then_v2_with_only_the_service_account(
    installed: Kubectl,
    sa_env: dict[str, str],
    sa_kubeconfig: Path,
    namespace: str,
    apps: dict[str, App],
    tmp_path: Path,
    infrastructure: str,
    scope: str,
) -> None:
    if infrastructure == "terraform" and not terraform_ready():
        pytest.skip("the Terraform toolchain is not built (hack/build-toolchain.sh)")
    if scope == "in-cluster" and not can_fake_a_pod():
        pytest.skip("needs root and unshare for a private mount namespace")
    admin = installed
    operator = OperatorProcess(
        sa_env,
        sa_kubeconfig,
        [namespace] if scope == "namespaced" else [],
        infrastructure,
        tmp_path,
        in_cluster=scope == "in-cluster",
    )
    try:
        _release_lifecycle(admin, namespace, apps, infrastructure)
    finally:
        operator.stop()
        log = operator.text()
        print(f"operator log ({operator.log}):\n{log[-4000:]}")
    assert not denied_lines(log), "the operator was refused:\n" + "\n".join(denied_lines(log))


def _release_lifecycle(
    admin: Kubectl, namespace: str, apps: dict[str, App], infrastructure: str
) -> None:
    rel = Release(admin, namespace, NAME)
    rel.apply(release(NAME, "v1", apps["v1"].url, "V1"))
    rel.wait_condition("Ready", timeout=120)
    v1 = rel.revision()
    assert rel.selector() == {"bluegreen.dev/release": NAME, "bluegreen.dev/revision": v1}

    rel.apply(
        release(
            NAME,
            "v2",
            apps["v2"].url,
            "V2",
            smoke=[_http(apps["v2"].url, "V2"), JOB_CHECK],
            hold_checks=[_http(apps["v2"].url, "V2")],
            auto=False,
        )
    )
    # A human action: the operator consumes (removes) the annotation it acts on.
    rel.wait_phase("AwaitingPromotion", timeout=120)
    admin.run("annotate", "bgr", NAME, "-n", namespace, "bluegreen.dev/action=promote@1")
    wait_for(
        "the promote action consumed",
        lambda: "bluegreen.dev/action" not in (rel.get()["metadata"].get("annotations") or {}),
        timeout=60,
    )
    rel.wait_condition("Ready", timeout=180)
    v2 = rel.revision()
    assert v2 != v1
    assert rel.selector() == {"bluegreen.dev/release": NAME, "bluegreen.dev/revision": v2}
    wait_for("v1 deleted after the hold", lambda: set(rel.deployments()) == {v2}, timeout=60)
    status = rel.status()
    assert status["phase"] == "Complete", status
    assert status["active"]["revision"] == v2
    for reason in ("CandidateReady", "TrafficSwitched", "PreviousDeleted"):
        assert reason in rel.events(), rel.events()

    lease = admin.json("get", "lease", "bluegreen-operator", "-n", SYSTEM_NAMESPACE) or {}
    assert lease.get("spec", {}).get("holderIdentity"), "the operator acts as the Lease holder"
    state = f"tfstate-default-{names.state_key(namespace, NAME)}"
    if infrastructure == "terraform":
        assert admin.json("get", "secret", state, "-n", SYSTEM_NAMESPACE), "no Terraform state"

    # Deletion runs the finalizer: Deployments, Jobs and both Services go.
    admin.run("delete", "bgr", NAME, "-n", namespace, "--wait=false")
    wait_for(
        "the release to be finalized and gone",
        lambda: not admin.run("get", "bgr", "-n", namespace, "-o", "name").strip(),
        timeout=120,
    )
    for service in (NAME, f"{NAME}-preview"):
        assert not admin.json("get", "svc", service, "-n", namespace), f"{service} left behind"
    assert not rel.deployments()


def _built(k: Kubectl, directory: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(k.run("kustomize", str(directory))) if doc]


def test_namespaced_overlay_rights_suffice(
    cluster: Cluster,
    installed: Kubectl,
    namespace: str,
    apps: dict[str, App],
    tmp_path: Path,
) -> None:
    """manifests/namespaced/'s Role and read-only ClusterRole carry a whole release.

    They are applied for a ServiceAccount of their own, bound in the test's
    namespace, so the cluster-wide install used by the other tests stays as it is.
    """
    admin = installed
    account = f"bluegreen-ns-{uuid.uuid4().hex[:6]}"
    admin.run("create", "serviceaccount", account, "-n", SYSTEM_NAMESPACE)
    subject = [{"kind": "ServiceAccount", "name": account, "namespace": SYSTEM_NAMESPACE}]
    wanted: list[dict[str, Any]] = []
    for doc in _built(admin, MANIFESTS / "namespaced"):
        kind, meta = doc["kind"], doc["metadata"]
        if kind in ("Role", "RoleBinding") and meta.get("namespace") == "apps":
            meta["namespace"] = namespace
        elif kind in ("ClusterRole", "ClusterRoleBinding") or (
            kind == "RoleBinding" and meta["name"] == "bluegreen-operator-terraform-state"
        ):
            meta["name"] = f"{meta['name']}-{account}"
            if kind == "ClusterRoleBinding":
                doc["roleRef"]["name"] = f"{doc['roleRef']['name']}-{account}"
        else:
            continue
        if "subjects" in doc:
            doc["subjects"] = subject
        wanted.append(doc)
    assert {d["kind"] for d in wanted} == {
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
    }
    admin.run("apply", "-f", "-", stdin=yaml.safe_dump_all(wanted))
    user = f"system:serviceaccount:{SYSTEM_NAMESPACE}:{account}"
    can = lambda *a: admin.run("auth", "can-i", *a, "--as", user, check=False).startswith("yes")  # noqa: E731
    assert can("create", "deployments.apps", "-n", namespace)
    assert not can("create", "deployments.apps", "-n", "default")
    assert not can("list", "pods", "--all-namespaces")
    assert not can("patch", "services", "-n", "default")

    kubeconfig = token_kubeconfig(cluster, admin, account, tmp_path / "kubeconfig")
    infrastructure = "terraform" if terraform_ready() else "kubernetes"
    env = {**cluster.env, "KUBECONFIG": str(kubeconfig)}
    operator = OperatorProcess(env, kubeconfig, [namespace], infrastructure, tmp_path)
    try:
        _release_lifecycle(admin, namespace, apps, infrastructure)
    finally:
        operator.stop()
        log = operator.text()
        print(f"operator log ({operator.log}):\n{log[-4000:]}")
        for doc in wanted:
            if doc["kind"].startswith("Cluster"):
                admin.run("delete", doc["kind"], doc["metadata"]["name"], check=False)
        admin.run(
            "delete",
            "rolebinding",
            f"bluegreen-operator-terraform-state-{account}",
            "-n",
            SYSTEM_NAMESPACE,
            check=False,
        )
        admin.run("delete", "serviceaccount", account, "-n", SYSTEM_NAMESPACE, check=False)
    assert not denied_lines(log), "the operator was refused:\n" + "\n".join(denied_lines(log))
