"""The operator process's entry point: ``bluegreen-operator`` and ``python -m bluegreen``.

Two process-wide settings come first, before kopf is imported:

- kopf imports the ``kubernetes`` and ``kubernetes_asyncio`` client libraries
  whenever they can be imported, and the operator uses neither
  (``adapters.kube_connection``): in a development environment, where both are
  installed for the tests and the plugin, that is 50 MiB of modules in every
  operator process. Marking them absent keeps the process what it is in the image.
- asyncio gives every TLS connection a read buffer of 256 KiB
  (``asyncio.sslproto.SSLProtocol.max_size``). The operator holds a long-lived
  connection per watch (six kinds per watched namespace, and kopf's own): 90
  connections cost 23 MiB of buffers that are almost always empty. A smaller
  buffer only means more, smaller reads of a large response.
"""

from __future__ import annotations

import asyncio.sslproto
import sys

UNUSED_CLIENT_LIBRARIES = ("kubernetes", "kubernetes_asyncio")
TLS_READ_BUFFER_BYTES = 32 * 1024


def prepare_process() -> None:
    for name in UNUSED_CLIENT_LIBRARIES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # "import name" now fails
    protocol = asyncio.sslproto.SSLProtocol
    if getattr(protocol, "max_size", 0) > TLS_READ_BUFFER_BYTES:
        protocol.max_size = TLS_READ_BUFFER_BYTES


def main() -> int:
    prepare_process()
    from bluegreen.main import main as run_operator

    return run_operator()
