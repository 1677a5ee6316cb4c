"""The operator as users run it, on the real node.

Its image is built from the project's Dockerfile with buildah (``make image``)
and pushed to the local registry; the node's containerd pulls it from there
(``imagePullPolicy: IfNotPresent``). It is installed with
``kubectl apply -k deploy/local/`` (manifests/ plus the registry's image name
and the real node's placement): two replicas electing a leader, nothing but
the ServiceAccount's RBAC, in-cluster configuration, Terraform from the image's
own provider mirror. The tests then prove, in this order:

1. the pods pulled the image and are Ready, probes passing, with one leader;
2. the kubelet enforces the security context (non-root, read-only root
   filesystem, no capabilities) and refuses to run the image as root;
3. a release (v1 then v2 of the demo app, built from app/Dockerfile and pulled
   from the registry) completes through the installed operator, with Terraform;
4. an upgrade to version N+1 while a release holds leaves the release, its
   traffic, its Terraform state and the CRD unharmed;
5. the uninstall in the documented order (releases, then ``kubectl delete -k``)
   leaves nothing behind: no finalizer stuck, no namespace Terminating.

The installed operator watches only this module's namespace, so other
operators' releases on a shared cluster are never touched.

Images take about a minute to build when buildah's cache is warm, ten cold:
the module runs with ``BLUEGREEN_IMAGE_TESTS=1`` (``.ci/run`` sets it: build
them first) or ``BLUEGREEN_IMAGE_TESTS=registry`` (use what ``make image``
pushed), and is skipped otherwise.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import os
import subprocess
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen.core import names
from tests.conftest import HACK, Cluster
from tests.e2e.conftest import PLACEMENT, RealNode
from tests.e2e.traffic import LoadGenerator, get
from tests.integration.harness import REPO, Kubectl, Release, wait_for
from tests.integration.manifests.conftest import denied_lines

pytestmark = pytest.mark.node

REGISTRY = f"127.0.0.1:{os.environ.get('BLUEGREEN_REGISTRY_PORT', '5001')}"
SYSTEM = "bluegreen-system"
OPERATOR = "app.kubernetes.io/name=bluegreen-operator"
LOCAL_INSTALL = REPO / "deploy" / "local"
CRD = "bluegreenreleases.bluegreen.dev"
IMAGE_BUILD_TIMEOUT_S = 3600  # a cold build: base images by debootstrap, Terraform compiled
DEPLOY_TIMEOUT_S = 600


def registry_digest(repository: str, tag: str) -> str:
    """The manifest digest the local registry serves for ``repository:tag``."""
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.oci.image.manifest.v1+json"
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


@dataclasses.dataclass(frozen=True)
class Installed:
    k: Kubectl
    namespace: str
    """The one namespace the installed operator watches."""
    version: str
    apply_to_ready_s: float


def registry_up() -> bool:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def images(real_node: RealNode) -> Iterator[str]:
    """``make image``: the operator and demo app images, in the local registry.

    A registry this fixture started is stopped after the module (its images
    stay cached), as the session stops a cluster it started.
    """
    mode = os.environ.get("BLUEGREEN_IMAGE_TESTS")
    if mode == "registry":
        yield project_version()  # as `make image` left them; hack/deploy-local.sh checks
        return
    if mode != "1":
        pytest.skip(
            "set BLUEGREEN_IMAGE_TESTS=1 to build the images with buildah (make image: about "
            "a minute warm, ten cold) and test the operator installed from them, or "
            "BLUEGREEN_IMAGE_TESTS=registry to use what `make image` pushed"
        )
    if os.geteuid() != 0:
        pytest.skip("building the base images needs root (debootstrap)")
    started_registry = not registry_up()
    try:
        built = subprocess.run(
            [str(HACK / "images" / "build-images.sh")],
            capture_output=True,
            text=True,
            timeout=IMAGE_BUILD_TIMEOUT_S,
            check=False,
        )
        if built.returncode != 0:
            pytest.fail(f"hack/images/build-images.sh failed:\n{built.stderr[-4000:]}")
        print("\n".join(ln for ln in built.stderr.splitlines() if ln.startswith("[images]")))
        yield project_version()
    finally:
        if started_registry and os.environ.get("BLUEGREEN_KEEP_CLUSTER") != "1":
            subprocess.run(
                [str(HACK / "registry" / "registry-down.sh")], capture_output=True, check=False
            )


def deploy(k: Kubectl, namespace: str, tag: str | None = None) -> float:
    """hack/deploy-local.sh watching ``namespace``: seconds from apply to Ready."""
    env = {**k.env, "BLUEGREEN_WATCH_NAMESPACES": namespace}
    if tag:
        env["BLUEGREEN_OPERATOR_TAG"] = tag
    deployed = subprocess.run(
        [str(HACK / "deploy-local.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT_S,
        check=False,
    )
    if deployed.returncode != 0:
        pytest.fail(f"hack/deploy-local.sh failed:\n{deployed.stderr[-4000:]}")
    return float(deployed.stdout.split()[-1])


def _ours_running(k: Kubectl) -> bool:
    deploy = k.json("get", "deployment", "bluegreen-operator", "-n", SYSTEM) or {}
    spec = deploy.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("nodeSelector", {}).get("bluegreen.dev/real-node") == "true"


@pytest.fixture(scope="module")
def installed(cluster: Cluster, real_node: RealNode, images: str) -> Iterator[Installed]:
    """``kubectl apply -k deploy/local/`` (by hack/deploy-local.sh), until Ready and leading."""
    k = Kubectl(cluster.env)
    namespace = f"inst-e2e-{uuid.uuid4().hex[:8]}"
    k.run("create", "namespace", namespace)
    # A shared cluster may hold the plain install of manifests/ already (the
    # integration tests apply it; its pods are on KWOK nodes): put it back after.
    found = k.json("get", "deployment", "bluegreen-operator", "-n", SYSTEM) is not None
    seconds = deploy(k, namespace)
    print(f"kubectl apply -k deploy/local/ -> operator Ready in {seconds:.1f}s")
    try:
        yield Installed(k, namespace, images, seconds)
    finally:
        if _ours_running(k):
            # The uninstall test did not get to run: still, leave no operator of
            # ours acting (it holds the Lease other tests' operators take).
            subprocess.run(
                ["kubectl", "delete", "bgr", "--all", "-n", namespace, "--timeout=300s"],
                env=k.env,
                capture_output=True,
                timeout=330,
                check=False,
            )
            if found:
                k.run("apply", "-k", str(REPO / "manifests"), check=False)
            else:
                k.run("delete", "deployment", "bluegreen-operator", "-n", SYSTEM, check=False)
        k.run("delete", "namespace", namespace, "--wait=false", check=False)


def operator_pods(k: Kubectl) -> list[dict[str, Any]]:
    pods = (k.json("get", "pods", "-n", SYSTEM, "-l", OPERATOR) or {}).get("items", [])
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def kubectl_long(k: Kubectl, *args: str, timeout: float = 330) -> str:
    """kubectl with its own --timeout: Kubectl.run stops any call at 60 s."""
    done = subprocess.run(
        ["kubectl", *args], env=k.env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def _exec(k: Kubectl, pod: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "exec", "-n", SYSTEM, pod, "--", "sh", "-c", script],
        env=k.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_pods_pulled_the_image_and_are_ready(installed: Installed) -> None:
    k = installed.k
    deploy = k.json("get", "deployment", "bluegreen-operator", "-n", SYSTEM)
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    digest = registry_digest("bluegreen-operator", installed.version)
    # The version's tag, pinned to what `make image` pushed (a rebuild keeps the tag).
    assert container["image"] == f"{REGISTRY}/bluegreen-operator:{installed.version}@{digest}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert deploy["status"].get("readyReplicas") == deploy["spec"]["replicas"] == 2
    pods = operator_pods(k)
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    for pod in pods:
        assert pod["spec"]["nodeName"] == "bluegreen-node-0"
        assert pod["spec"]["serviceAccountName"] == "bluegreen-operator"
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"], status
        assert status["restartCount"] == 0, status  # the liveness probe never failed
        # Pulled from the local registry, by digest: not imported, not built on the node.
        assert status["imageID"] == f"{REGISTRY}/bluegreen-operator@{digest}", status
    assert installed.apply_to_ready_s < DEPLOY_TIMEOUT_S


def test_one_replica_leads_and_both_serve_probes_and_metrics(installed: Installed) -> None:
    k = installed.k
    pods = {p["metadata"]["name"]: p["status"]["podIP"] for p in operator_pods(k)}
    holder = k.json("get", "lease", "bluegreen-operator", "-n", SYSTEM)["spec"]["holderIdentity"]
    leader = holder.rsplit("_", 1)[0]
    assert leader in pods, (holder, pods)
    roles, gauges = {}, {}
    for name, ip in pods.items():
        ready = get(ip, 8080, "/readyz")
        assert ready.ok, ready
        roles[name] = json.loads(ready.body)["role"]
        metrics = get(ip, 9090, "/metrics")
        assert metrics.ok, metrics
        gauges[name] = next(
            line.split()[1]
            for line in metrics.body.splitlines()
            if line.startswith("bluegreen_leader ")
        )
    assert roles == {n: "leader" if n == leader else "standby" for n in pods}
    assert gauges == {n: "1.0" if n == leader else "0.0" for n in pods}
    # The metrics Service (what a Prometheus scrapes) reaches them through kube-proxy.
    service_ip = k.json("get", "service", "bluegreen-operator-metrics", "-n", SYSTEM)["spec"][
        "clusterIP"
    ]
    scraped = get(service_ip, 9090, "/metrics")
    assert scraped.ok and "bluegreen_leader " in scraped.body, scraped


def test_kubelet_enforces_non_root_and_read_only_root(installed: Installed) -> None:
    k = installed.k
    pod = operator_pods(k)[0]["metadata"]["name"]
    probe = _exec(
        k,
        pod,
        "id -u; id -g; "
        "touch /probe 2>&1 || true; "
        "touch /tmp/probe && echo tmp-writable; "
        "awk '$2 == \"/\" {print $4}' /proc/self/mounts; "
        "grep -E '^(CapEff|NoNewPrivs):' /proc/1/status",
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert lines[:2] == ["65532", "65532"], lines
    assert "Read-only file system" in lines[2], lines
    assert lines[3] == "tmp-writable", lines
    assert lines[4].split(",")[0] == "ro", lines
    assert "CapEff:\t0000000000000000" in lines[5:], lines
    assert "NoNewPrivs:\t1" in lines[5:], lines

    # The same image asked to run as root under runAsNonRoot: the kubelet refuses
    # to start it. (This namespace has no Pod Security enforcement: the kubelet is
    # what says no.)
    name = "as-root"
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": installed.namespace},
            "spec": {
                **PLACEMENT,
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 0},
                "containers": [
                    {
                        "name": "operator",
                        "image": f"{REGISTRY}/bluegreen-operator:{installed.version}",
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["--help"],
                    }
                ],
            },
        }
    )

    def refused() -> str | None:
        pod = k.json("get", "pod", name, "-n", installed.namespace) or {}
        for status in pod.get("status", {}).get("containerStatuses") or []:
            waiting = status.get("state", {}).get("waiting") or {}
            if waiting.get("reason") == "CreateContainerConfigError":
                return str(waiting.get("message", ""))
        return None

    message = wait_for("the kubelet to refuse the root container", refused, timeout=120)
    assert "non-root" in message, message
    k.run("delete", "pod", name, "-n", installed.namespace, "--wait=false")


def demo_release(name: str, version: str) -> dict[str, Any]:
    """The demo app from app/Dockerfile, pulled from the registry, on the real node."""
    return {
        "apiVersion": "bluegreen.dev/v1alpha1",
        "kind": "BlueGreenRelease",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    **PLACEMENT,
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "app",
                            # Pinned like the operator: a rebuild keeps the tag.
                            "image": f"{REGISTRY}/bluegreen-demo:{version}"
                            f"@{registry_digest('bluegreen-demo', version)}",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 5000}],
                            # Tolerant of a few seconds without CPU: on a 2-core
                            # machine a starved probe would empty the Service.
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": 5000},
                                "periodSeconds": 2,
                                "timeoutSeconds": 3,
                                "failureThreshold": 3,
                            },
                        }
                    ],
                }
            },
            "service": {"name": name, "type": "ClusterIP", "port": 80, "targetPort": 5000},
            "previewService": {"name": f"{name}-preview"},
            "checks": {
                "readiness": {"timeoutSeconds": 180},
                # No URL: from its pod, the operator calls the preview Service,
                # whose kube-proxy rules may lag the pods' readiness on a busy node.
                "smoke": [
                    {
                        "name": "home",
                        "http": {"path": "/", "expectBody": f"V{version[1:]}", "attempts": 5},
                    }
                ],
            },
            "hold": {"seconds": 3},
        },
    }


def test_release_completes_through_the_installed_operator(installed: Installed) -> None:
    k, ns, name = installed.k, installed.namespace, "shop"
    release = Release(k, ns, name)
    for version in ("v1", "v2"):
        release.apply(demo_release(name, version))
        release.wait_condition("Ready", timeout=300)
        ip = k.json("get", "service", name, "-n", ns)["spec"]["clusterIP"]
        # Ready follows the EndpointSlices; kube-proxy's rules follow them too,
        # a moment later (before the first release the Service had none).
        wait_for(
            f"{version} through the stable Service",
            lambda: (a := get(ip, 80, "/")).ok and f"V{version[1:]}" in a.body,  # noqa: B023
            timeout=30,
        )
    status = release.status()
    assert status["phase"] == "Complete", status
    # Terraform ran in the pod (init from the image's mirror, no network) and
    # keeps its state in the cluster, under the release's own key.
    assert status["infrastructure"]["applied"] is True, status["infrastructure"]
    state = f"tfstate-default-{names.state_key(ns, name)}"
    assert k.json("get", "secret", state, "-n", SYSTEM), f"no Terraform state Secret {state}"
    for pod in operator_pods(k):
        log = k.run("logs", "-n", SYSTEM, pod["metadata"]["name"])
        assert denied_lines(log) == [], denied_lines(log)


def next_image(version: str) -> str:
    """Version N+1 for the upgrade: the image as built, under a new tag, with its
    own digest (a label says which). The code is the same: what is tested is
    the replacement of every running replica during a release."""
    tag = f"{version}-next"
    script = f"""
source {HACK}/images/buildah-env.sh
ctr="$(bah from --pull-never localhost/bluegreen-operator:{version})"
bah config --label org.opencontainers.image.version={tag} "$ctr"
bah commit --quiet --rm "$ctr" localhost/bluegreen-operator:{tag} >/dev/null
bah push --quiet --tls-verify=false localhost/bluegreen-operator:{tag} \\
  docker://${{REGISTRY}}/bluegreen-operator:{tag}
"""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return tag


def app_pods(k: Kubectl, ns: str, release: str, revision: str) -> dict[str, int]:
    """Pod name -> restarts, for the pods of one revision that still run."""
    selector = f"bluegreen.dev/release={release},bluegreen.dev/revision={revision}"
    items = (k.json("get", "pods", "-n", ns, "-l", selector) or {}).get("items", [])
    return {
        p["metadata"]["name"]: sum(c["restartCount"] for c in p["status"]["containerStatuses"])
        for p in items
        if not p["metadata"].get("deletionTimestamp")
    }


def _tfstate(k: Kubectl, name: str) -> dict[str, Any]:
    """The Terraform state in a kubernetes-backend Secret (gzip, base64)."""
    secret = k.json("get", "secret", name, "-n", SYSTEM)
    assert secret, f"no Terraform state Secret {name}"
    raw = gzip.decompress(base64.b64decode(secret["data"]["tfstate"]))
    return dict(json.loads(raw))


def test_upgrade_during_the_hold_with_live_traffic(installed: Installed) -> None:
    """Every replica replaced by version N+1 while a release holds: it completes,
    traffic through the stable Service never fails, state and CRD untouched."""
    k, ns, name = installed.k, installed.namespace, "upgraded"
    release = Release(k, ns, name)
    body = demo_release(name, "v1")
    release.apply(body)
    release.wait_condition("Ready", timeout=300)
    body = demo_release(name, "v2")
    body["spec"]["hold"] = {"seconds": 150}
    release.apply(body)
    release.wait_phase("Holding", timeout=300)
    target = release.revision()
    state_name = f"tfstate-default-{names.state_key(ns, name)}"
    state_before = _tfstate(k, state_name)
    stored_before = k.json("get", "crd", CRD)["status"]["storedVersions"]
    ip = k.json("get", "service", name, "-n", ns)["spec"]["clusterIP"]
    selector = k.json("get", "service", name, "-n", ns)["spec"]["selector"]
    pods_before = app_pods(k, ns, name, target)

    # Holding means the EndpointSlices show only v2; kube-proxy on the node applies
    # them a moment later (why the operator keeps a revision's pods a few seconds
    # after the Service leaves it). What the upgrade may not disturb is measured
    # from the first instant the node routes to v2 only.
    wait_for(
        "the node routing to v2 only",
        lambda: all("V2" in (get(ip, 80).body or "") for _ in range(20)),
        timeout=60,
    )
    tag = next_image(installed.version)
    with LoadGenerator(ip, 80, workers=2, max_seconds=600, pause=0.05, timeout=5) as load:
        seconds = deploy(k, ns, tag)
        assert release.status()["phase"] == "Holding", "the upgrade outlasted the hold"
        release.wait_phase("Complete", timeout=300)
        samples = load.stop()
    failed = [s for s in samples if not s.ok]
    wrong = [s for s in samples if s.ok and "V2" not in s.body]
    print(
        f"upgrade to {tag}: Ready in {seconds:.1f}s; {len(samples)} requests during it, "
        f"{len(failed)} failed, {len(wrong)} not from v2"
    )
    # The operator left the serving revision alone: same selector, pods, restarts.
    assert k.json("get", "service", name, "-n", ns)["spec"]["selector"] == selector
    assert app_pods(k, ns, name, target) == pods_before
    assert samples and failed == [] and wrong == [], (failed[:3], wrong[:3])
    status = release.status()
    assert status["active"]["revision"] == target, status
    entry = [h for h in status["history"] if h["revision"] == target][-1]
    assert entry["outcome"] == "Promoted", status["history"]
    for pod in operator_pods(k):
        assert pod["spec"]["containers"][0]["image"].startswith(
            f"{REGISTRY}/bluegreen-operator:{tag}@"
        )
    assert k.json("get", "crd", CRD)["status"]["storedVersions"] == stored_before
    state_after = _tfstate(k, state_name)
    assert state_after["lineage"] == state_before["lineage"]
    assert state_after["serial"] >= state_before["serial"]
    # The same resources (a refresh may have rewritten their attributes).
    addresses = lambda state: sorted((r["type"], r["name"]) for r in state["resources"])  # noqa: E731
    assert addresses(state_after) == addresses(state_before)


def test_uninstall_in_the_documented_order_leaves_nothing(installed: Installed) -> None:
    """docs/install.md: delete the releases while the operator runs, then ``kubectl delete -k``."""
    k, ns = installed.k, installed.namespace
    others = [
        f"{r['metadata']['namespace']}/{r['metadata']['name']}"
        for r in (k.json("get", "bgr", "--all-namespaces") or {}).get("items", [])
        if r["metadata"]["namespace"] != ns
    ]
    if others:
        pytest.skip(
            f"{len(others)} releases of other operators exist ({', '.join(others[:3])}...): "
            "deleting the CRD would delete them too"
        )
    releases = (k.json("get", "bgr", "-n", ns) or {}).get("items", [])
    states = [f"tfstate-default-{names.state_key(ns, r['metadata']['name'])}" for r in releases]

    kubectl_long(k, "delete", "bgr", "--all", "-n", ns, "--wait=true", "--timeout=300s")
    assert (k.json("get", "bgr", "-n", ns) or {}).get("items") == []
    # What the releases made went with them: Deployments, Services (terraform
    # destroy), the Terraform state.
    for kind in ("deployments", "services"):
        managed = "app.kubernetes.io/managed-by=bluegreen-operator"
        left = k.json("get", kind, "-n", ns, "-l", managed) or {}
        assert left.get("items") == [], f"{kind} left: {left.get('items')}"
    for state in states:
        assert k.json("get", "secret", state, "-n", SYSTEM) is None, f"{state} left"

    try:
        kubectl_long(k, "delete", "-k", str(LOCAL_INSTALL), "--wait=true", "--timeout=300s")
        for args in (
            ("crd", CRD),
            ("namespace", SYSTEM),
            ("clusterrole", "bluegreen-operator"),
            ("clusterrolebinding", "bluegreen-operator"),
        ):
            assert k.json("get", *args) is None, f"{args} still there"
        assert not (k.json("get", "pods", "-n", SYSTEM, "-l", OPERATOR) or {}).get("items")
    finally:
        # The rest of the session expects what the cluster started with: the
        # state namespace (hack/cluster-up.sh makes it) and the CRD (the
        # session fixtures applied it once).
        k.run("create", "namespace", SYSTEM, check=False)
        k.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
        k.run("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD}")
