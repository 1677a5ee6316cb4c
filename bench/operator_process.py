"""The operator as a real process, as the integration tests run it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.harness import REPO, Kubectl, Operator, wait_for

FLAGS = ("--infrastructure", "kubernetes", "--drift-interval", "0")


class BenchOperator(Operator):
    """``python -m bluegreen``, or the same entry point with timing probes when ``trace``."""

    def __init__(
        self,
        env: dict[str, str],
        namespace: str,
        log: Path,
        trace: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            {**env, "PYTHONPATH": str(REPO), **(extra_env or {})}, namespace, log, *FLAGS
        )
        self.trace = trace

    def start(self) -> None:
        if self.trace is None:
            super().start()
            return
        args = [
            sys.executable,
            "-m",
            "bench.traced_operator",
            "--namespace",
            self.namespace,
            "--metrics-port",
            str(self.metrics_port),
            "--liveness-port",
            str(self.liveness_port),
            "--check-allowed-hosts",
            "127.0.0.1",
            *self.extra,
        ]
        env = {**self.env, "BENCH_TRACE_FILE": str(self.trace)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, env=env, stdout=out, stderr=out, cwd=REPO)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def start_operator(
    env: dict[str, str],
    namespace: str,
    log: Path,
    trace: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> BenchOperator:
    operator = BenchOperator(env, namespace, log, trace, extra_env)
    operator.start()
    wait_for("operator metrics endpoint", lambda: _up(operator), timeout=60)
    return operator


def _up(operator: BenchOperator) -> bool:
    if operator.process is not None and operator.process.poll() is not None:
        raise RuntimeError(f"operator exited ({operator.process.returncode}); log: {operator.log}")
    try:
        return "bluegreen_" in operator.metrics()
    except OSError:
        return False


def stop_operator(operator: BenchOperator, k: Kubectl, namespace: str) -> None:
    """Delete the releases while the operator runs (it owns their finalizers), then stop it.

    Releases go first, the namespace after: an operator watching named
    namespaces stops serving one as soon as it starts terminating, and its
    releases' finalizers would then hold the namespace forever.
    """
    try:
        k.run("delete", "bgr", "--all", "-n", namespace, "--timeout=300s", check=False)
        k.run("delete", "namespace", namespace, "--wait=false", check=False)
    finally:
        try:
            operator.kill(signal.SIGTERM)
        except subprocess.TimeoutExpired:
            operator.kill(signal.SIGKILL)
