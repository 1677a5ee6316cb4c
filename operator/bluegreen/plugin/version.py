"""The plugin's own version: the installed package's, like the operator's user agent."""

from __future__ import annotations

import importlib.metadata
import platform

from bluegreen.api.v1alpha1 import API_VERSION

PACKAGE = "bluegreen-operator"


def plugin_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def version_line() -> str:
    """``kubectl-bluegreen 0.1.0 (bluegreen.dev/v1alpha1, Python 3.11.2)``."""
    return (
        f"kubectl-bluegreen {plugin_version()} ({API_VERSION}, Python {platform.python_version()})"
    )
