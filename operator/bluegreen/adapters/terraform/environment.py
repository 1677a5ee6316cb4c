"""The environment Terraform runs in: automation settings, nothing ambient.

Passed to every command explicitly (``process``), so a run does not depend on
who started the operator or on another release's run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

_DROPPED_PREFIXES = ("TF_VAR_", "TF_CLI_ARGS")
_DROPPED = frozenset(
    {
        "TF_PLUGIN_CACHE_DIR",  # never shared between concurrent inits
        "TF_WORKSPACE",  # the state Secret name assumes the default workspace
        "TF_DATA_DIR",
        "TF_LOG",
        "TF_LOG_PATH",
        "KUBE_CONFIG_PATH",
        "KUBE_CONFIG_PATHS",
        "KUBECONFIG",
    }
)


def terraform_environment(ambient: Mapping[str, str], kubeconfig: Path | None) -> dict[str, str]:
    """``ambient`` without Terraform and kubeconfig settings, plus automation mode.

    ``kubeconfig`` None: the provider uses in-cluster credentials.
    """
    env = {
        name: value
        for name, value in ambient.items()
        if name not in _DROPPED and not name.startswith(_DROPPED_PREFIXES)
    }
    env.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1")
    if kubeconfig is not None:
        # Read by the provider itself (the module leaves config_path null).
        env["KUBE_CONFIG_PATH"] = str(kubeconfig)
    return env
