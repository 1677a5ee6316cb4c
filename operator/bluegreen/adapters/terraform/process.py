"""Runs one operation's commands as asyncio subprocesses, under one deadline.

No worker threads: a command is an ``asyncio`` subprocess, so waiting for
Terraform costs the event loop nothing and a cancelled reconcile can stop it.
(On Python 3.11 asyncio reaps each child with its own small ``waitpid``
thread unless a pidfd child watcher is installed; nothing of ours blocks.)

- Each command leads its own process group (``start_new_session``), so the
  provider plugins Terraform starts are stopped with it.
- At the deadline, or when the caller is cancelled, the group gets SIGINT,
  like Ctrl-C in a terminal: Terraform (>= 1.5) stops, saves the state and
  releases its lock. If it has not exited ``grace_seconds`` later the group
  gets SIGKILL (the lock may then stay behind; ``locks`` recovers it once it is
  provably stale). After a stop the group is always SIGKILLed, so no plugin
  outlives the run.
- Stopping runs to the end even if the caller is cancelled again meanwhile: the
  release's lock in the adapter must not be freed while a Terraform of that
  release still runs.
- The environment is passed per run, never through ``os.environ``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DRAIN_SECONDS = 5.0
"""After SIGKILL, how long to wait for the pipes to close (a process that left
the group could hold them open forever)."""


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


class StoppedError(Exception):
    """The command was stopped (deadline or cancellation) before it finished."""

    def __init__(self, reason: str, *, killed: bool = False, stderr: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.killed = killed
        """True when it ignored SIGINT for the whole grace period and was SIGKILLed."""
        self.stderr = stderr


class ProcessRunner:
    """The commands of one operation: one shared deadline, stopped as a whole."""

    def __init__(
        self, timeout_seconds: float, grace_seconds: float, env: Mapping[str, str]
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.grace_seconds = grace_seconds
        self._deadline = time.monotonic() + timeout_seconds
        self._env = dict(env)
        self._stopped: str | None = None

    async def run(self, argv: Sequence[str], cwd: Path) -> Finished:
        """Run one command to completion; raise ``StoppedError`` past the deadline."""
        if self._stopped is None and self._remaining() <= 0:
            self._stopped = self._timed_out()
        if self._stopped is not None:
            raise StoppedError(self._stopped)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        output = asyncio.ensure_future(proc.communicate())
        try:
            done, _ = await asyncio.wait({output}, timeout=self._remaining())
        except asyncio.CancelledError:
            self._stopped = "cancelled"
            await _finish_despite_cancellation(self._stop(proc.pid, output))
            raise
        if not done:
            self._stopped = self._timed_out()
            killed, stderr = await _finish_despite_cancellation(self._stop(proc.pid, output))
            raise StoppedError(self._stopped, killed=killed, stderr=stderr)
        out, err = output.result()
        assert proc.returncode is not None  # communicate() returns after the exit
        return Finished(proc.returncode, _text(out), _text(err))

    def _timed_out(self) -> str:
        return f"timed out after {self.timeout_seconds:g}s"

    def _remaining(self) -> float:
        return max(self._deadline - time.monotonic(), 0.0)

    async def _stop(
        self, pid: int, output: asyncio.Future[tuple[bytes, bytes]]
    ) -> tuple[bool, str]:
        """SIGINT the group, SIGKILL it after the grace; (whether SIGINT was ignored, stderr)."""
        _signal_group(pid, signal.SIGINT)
        done, _ = await asyncio.wait({output}, timeout=self.grace_seconds)
        ignored_sigint = not done
        # Also when the leader exited: a plugin left in its group must not outlive it.
        _signal_group(pid, signal.SIGKILL)
        if not done:
            done, _ = await asyncio.wait({output}, timeout=DRAIN_SECONDS)
        if not done:
            output.cancel()
            return ignored_sigint, ""
        return ignored_sigint, _text(output.result()[1])


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The group outlives its leader while any member lives; once all are gone
    # killpg fails, which is the outcome we wanted.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _finish_despite_cancellation(step: Awaitable[T]) -> T:
    """Await ``step`` to its end even if the caller is cancelled meanwhile; a
    cancellation that arrived is raised once ``step`` is done."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result


def _text(data: bytes) -> str:
    return data.decode(errors="replace")
