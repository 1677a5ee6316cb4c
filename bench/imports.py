"""The operator's memory before its first release: what importing it costs.

Each case runs in a fresh interpreter of this virtual environment and reports
its RSS after the imports. Client libraries can be hidden from a case (as if
not installed): kopf imports ``kubernetes`` and ``kubernetes_asyncio`` at start
whenever they are installed (kopf/_cogs/helpers/thirdparty.py), whether the
operator uses them or not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

CASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("python", "pass", ()),
    ("aiohttp + prometheus_client + yaml", "import aiohttp, prometheus_client, yaml", ()),
    ("kubernetes_asyncio.client", "import kubernetes_asyncio.client", ()),
    ("kubernetes (sync) client", "import kubernetes.client", ()),
    (
        "kopf, no client library installed",
        "import kopf, aiohttp, prometheus_client, yaml",
        ("kubernetes", "kubernetes_asyncio"),
    ),
    (
        "kopf + kubernetes_asyncio (sync client not installed)",
        "import kopf, kubernetes_asyncio.client, aiohttp, prometheus_client, yaml",
        ("kubernetes",),
    ),
    ("kopf as installed here (both clients)", "import kopf", ()),
    (
        "the operator's modules (bluegreen.main + handlers)",
        "import bluegreen.main, bluegreen.handlers",
        (),
    ),
)

PROBE = """
import re, sys
for hidden in {hidden!r}:
    sys.modules[hidden] = None
{imports}
rss = re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)
print(int(rss) // 1024, sum(1 for m in sys.modules if m))
"""


GC_PROBE = """
import gc, sys, time
for hidden in {hidden!r}:
    sys.modules[hidden] = None
{imports}
gc.collect()

def full() -> float:
    runs = []
    for _ in range(5):
        cpu = time.process_time()
        gc.collect()
        runs.append(time.process_time() - cpu)
    return sorted(runs)[2] * 1000

before = full()
objects = len(gc.get_objects())
gc.freeze()
print(objects, before, full())
"""

GC_CASES = (
    ("the operator's modules", "import bluegreen.main, bluegreen.handlers", ()),
    (
        "kopf, no client library installed",
        "import kopf, aiohttp, prometheus_client, yaml",
        ("kubernetes", "kubernetes_asyncio"),
    ),
)


def gc_costs() -> list[dict[str, Any]]:
    """CPU time of one full collection after the imports, and after ``gc.freeze()``."""
    rows = []
    for label, imports, hidden in GC_CASES:
        code = GC_PROBE.format(hidden=hidden, imports=imports)
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        objects, before, frozen = done.stdout.split()
        rows.append(
            {
                "case": label,
                "tracked_objects": int(objects),
                "full_collection_cpu_ms": round(float(before), 1),
                "after_freeze_cpu_ms": round(float(frozen), 1),
            }
        )
    return rows


def run() -> dict[str, Any]:
    rows = []
    for label, imports, hidden in CASES:
        code = PROBE.format(hidden=hidden, imports=imports)
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        rss, modules = (int(x) for x in done.stdout.split())
        rows.append({"case": label, "rss_mib": rss, "modules": modules, "hidden": list(hidden)})
    return {"cases": rows, "gc": gc_costs()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
