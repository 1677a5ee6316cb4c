"""The operator process's entry point: ``bluegreen-operator`` and ``python -m bluegreen``.

kopf imports the ``kubernetes`` and ``kubernetes_asyncio`` client libraries
whenever they can be imported, and the operator uses neither
(``adapters.kube_connection``): in a development environment, where both are
installed for the tests and the plugin, that is 50 MiB of modules in every
operator process. Marking them absent before kopf is imported keeps the process
what it is in the image.
"""

from __future__ import annotations

import sys

UNUSED_CLIENT_LIBRARIES = ("kubernetes", "kubernetes_asyncio")


def forget_client_libraries() -> None:
    for name in UNUSED_CLIENT_LIBRARIES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # "import name" now fails


def main() -> int:
    forget_client_libraries()
    from bluegreen.main import main as run_operator

    return run_operator()
