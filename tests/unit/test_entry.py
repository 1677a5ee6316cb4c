"""The operator process's set-up: no client library loaded, small TLS read buffers."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from bluegreen.entry import prepare_process
prepare_process()
import asyncio.sslproto
import kopf
import bluegreen.main, bluegreen.handlers
clients = ('kubernetes', 'kubernetes_asyncio')
loaded = sorted(
    n for n in sys.modules if n.split('.')[0] in clients and sys.modules[n] is not None
)
print(json.dumps({"loaded": loaded, "tls": asyncio.sslproto.SSLProtocol.max_size}))
"""


def test_the_operator_process_loads_no_client_library_and_small_tls_buffers() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    # Both libraries are installed in this environment (the tests use them): kopf
    # would import them unless the entry point marks them absent first.
    assert probe["loaded"] == []
    assert probe["tls"] == 32 * 1024
