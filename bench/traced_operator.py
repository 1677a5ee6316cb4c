"""The real operator (``bluegreen.main.main``) with timing probes, for the breakdown pass.

``python -m bench.traced_operator <operator flags>`` runs exactly what
``python -m bluegreen`` runs, after wrapping a few methods so that each
records ``time.monotonic()`` (one clock for every process on the machine) to
the JSON-lines file named by ``BENCH_TRACE_FILE``:

- ``wake``: a watch event (of the release or of what it owns) woke a release;
- ``reconcile``: one wake-up's run of steps, start and end;
- ``step``: one observe/decide/act/write-status step;
- ``request``: every API request of the operator, with method, path and duration;
- ``action``: every action the executor carries out;
- ``gc``: garbage collections of generation 2, and any other over 2 ms;
- ``lag``: the event loop ran a 10 ms timer more than 20 ms late (the process
  got no CPU, or something blocked the loop: a collection, a big JSON parse).

The headline figures come from the untraced operator; this pass only explains them.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
_lock = threading.Lock()
_out = open(os.environ["BENCH_TRACE_FILE"], "a", buffering=1)  # noqa: SIM115


def emit(kind: str, **fields: Any) -> None:
    line = json.dumps({"kind": kind, **fields}, separators=(",", ":"), default=str)
    with _lock:
        _out.write(line + "\n")


def timed(
    kind: str, describe: Callable[..., dict[str, Any]]
) -> Callable[[Callable[..., Coroutine[Any, Any, T]]], Callable[..., Coroutine[Any, Any, T]]]:
    def wrap(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., Coroutine[Any, Any, T]]:
        @functools.wraps(func)
        async def probe(*args: Any, **kwargs: Any) -> T:
            start = time.monotonic()
            error = ""
            try:
                return await func(*args, **kwargs)
            except BaseException as err:
                error = type(err).__name__
                raise
            finally:
                try:
                    fields = describe(*args, **kwargs)
                except Exception as err:  # a probe must never change what it measures
                    fields = {"probe_error": repr(err)}
                emit(kind, start=start, end=time.monotonic(), error=error, **fields)

        return probe

    return wrap


def _caller() -> str:
    """The kopf handler whose watch event woke the release (e.g. ``deployment_changed``)."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            break
        if frame.f_code.co_name.endswith("_changed"):
            return frame.f_code.co_name
        frame = frame.f_back
    return "other"


def _gc_probe() -> None:
    """Every garbage collection of generation 2, and any other taking over 2 ms."""
    started: list[float] = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.monotonic()
            return
        end = time.monotonic()
        if info["generation"] == 2 or end - started[0] > 0.002:
            emit(
                "gc",
                start=started[0],
                end=end,
                generation=info["generation"],
                collected=info["collected"],
            )

    gc.callbacks.append(callback)


def _loop_lag_probe() -> None:
    """A task that wakes every 10 ms and reports when the event loop let it run late."""
    import asyncio

    import kopf

    @kopf.on.startup()
    async def start_lag_probe(**_: Any) -> None:
        async def probe() -> None:
            while True:
                due, cpu = time.monotonic() + 0.01, time.process_time()
                await asyncio.sleep(0.01)
                late = time.monotonic() - due
                if late > 0.02:
                    # CPU time the process used meanwhile: about ``late`` when the loop was
                    # busy, far less when the process waited for a core.
                    emit("lag", start=due, end=due + late, cpu=time.process_time() - cpu)

        asyncio.get_running_loop().create_task(probe())


def install() -> None:
    from bluegreen.adapters.kube_rest import KubeRest
    from bluegreen.handlers.wakeups import Wakeups
    from bluegreen.reconciler.execute import Executor
    from bluegreen.reconciler.loop import Reconciler
    from bluegreen.reconciler.observe import CacheObserver

    def request_fields(
        _self: Any, method: str, path: str, body: Any = None, query: Any = None, **_: Any
    ) -> dict[str, Any]:
        return {"method": method, "path": path, "query": dict(query or {})}

    KubeRest.request = timed("request", request_fields)(KubeRest.request)  # type: ignore[method-assign]

    def reconcile_fields(_self: Any, namespace: str, name: str) -> dict[str, Any]:
        return {"namespace": namespace, "name": name}

    Reconciler.reconcile = timed("reconcile", reconcile_fields)(Reconciler.reconcile)  # type: ignore[method-assign]

    def step_fields(
        _self: Any, body: Any, stored: Any, status: Any, *_: Any, **__: Any
    ) -> dict[str, Any]:
        meta = body["metadata"]
        return {"name": meta["name"], "phase_before": stored.phase, "phase": status.phase}

    Reconciler._write_status = timed("step", step_fields)(Reconciler._write_status)  # type: ignore[method-assign]

    def action_fields(_self: Any, action: Any, body: Any, *_: Any) -> dict[str, Any]:
        return {"name": body["metadata"]["name"], "action": type(action).__name__}

    Executor.run = timed("action", action_fields)(Executor.run)  # type: ignore[method-assign]

    def observe_fields(_observer: Any, body: Any) -> dict[str, Any]:
        return {"name": body["metadata"]["name"]}

    CacheObserver.observe = timed("observe", observe_fields)(CacheObserver.observe)  # type: ignore[method-assign]

    original_init = Reconciler.__init__

    def init(self: Reconciler, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        original_decide = self.decide

        def decide(ctx: Any, *rest: Any) -> Any:
            start = time.monotonic()
            decision = original_decide(ctx, *rest)
            emit(
                "decide",
                start=start,
                end=time.monotonic(),
                name=ctx.name,
                actions=[type(a).__name__ for a in decision.actions],
                phase=decision.status.phase,
                continue_now=decision.continue_now,
            )
            return decision

        self.decide = decide

    Reconciler.__init__ = init  # type: ignore[method-assign]

    original_wake = Wakeups.wake

    def wake(self: Wakeups, namespace: str, name: str) -> None:
        emit("wake", t=time.monotonic(), namespace=namespace, name=name, source=_caller())
        original_wake(self, namespace, name)

    Wakeups.wake = wake  # type: ignore[method-assign]
    _gc_probe()
    _loop_lag_probe()


def _package(filename: str) -> str:
    """``.../site-packages/kopf/_core/x.py`` -> ``kopf``; the standard library by module."""
    for marker in ("site-packages/", "/operator/bluegreen/"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            return "bluegreen" if marker.endswith("bluegreen/") else rest.split("/", 1)[0]
    if "/lib/python3" in filename:
        return "stdlib:" + filename.rsplit("/", 1)[-1].removesuffix(".py")
    return filename


def _memory_probe(interval: float) -> None:
    """Every ``interval`` seconds: traced Python memory by package, and the task count."""
    import asyncio
    import tracemalloc

    while True:
        time.sleep(interval)
        current, peak = tracemalloc.get_traced_memory()
        per: dict[str, list[int]] = {}
        for stat in tracemalloc.take_snapshot().statistics("filename"):
            got = per.setdefault(_package(stat.traceback[0].filename), [0, 0])
            got[0] += stat.size
            got[1] += stat.count
        top = sorted(per.items(), key=lambda kv: -kv[1][0])[:15]
        emit(
            "memory",
            t=time.monotonic(),
            traced_kib=current // 1024,
            traced_peak_kib=peak // 1024,
            tasks=len(asyncio.tasks._all_tasks),  # type: ignore[attr-defined]
            top=[[name, size // 1024, count] for name, (size, count) in top],
        )


def main() -> int:
    if os.environ.get("BENCH_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(1)
        interval = float(os.environ["BENCH_TRACEMALLOC"])
        threading.Thread(target=_memory_probe, args=(interval,), daemon=True).start()
    from bluegreen.entry import prepare_process

    prepare_process()  # as the operator's own entry point does
    install()
    from bluegreen.main import main as operator_main

    return operator_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
