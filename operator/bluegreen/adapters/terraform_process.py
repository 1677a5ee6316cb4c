"""Runs Terraform commands with a deadline and a way to stop them from outside.

python-terraform waits on its subprocess forever and cannot be cancelled; its
``synchronous=False`` escape hatch is broken in 0.10.1 (the flag is turned
into ``-synchronous=false`` on the command line). So the adapter lets
python-terraform build the command line and runs it here instead:

- each command is the leader of its own process group (``start_new_session``),
  so the provider plugins Terraform starts are stopped with it;
- at the deadline, or when the caller is cancelled, the group gets SIGINT,
  like Ctrl-C in a terminal: Terraform (>= 1.5) stops, saves the state and
  releases its lock; if it has not exited after ``grace`` seconds the group
  gets SIGKILL (then the lock may stay behind, which the adapter's stale-lock
  recovery handles);
- the environment is passed explicitly per run instead of mutating
  ``os.environ``, which is shared by every thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class TerraformStoppedError(Exception):
    """The command was stopped (deadline or cancellation) before it finished."""

    def __init__(self, reason: str, stderr: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr = stderr


class ProcessGuard:
    """One operation's commands: shares a deadline and can be stopped from another thread."""

    def __init__(self, timeout_seconds: float, grace_seconds: float) -> None:
        self.deadline = time.monotonic() + timeout_seconds
        self.timeout_seconds = timeout_seconds
        self.grace_seconds = grace_seconds
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop_reason: str | None = None

    def run(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str, str]:
        """Run one command to completion; raise ``TerraformStoppedError`` if stopped."""
        with self._lock:
            if self._stop_reason is not None:
                raise TerraformStoppedError(self._stop_reason)
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self._proc = proc
        try:
            out, err = self._communicate(proc)
        finally:
            with self._lock:
                self._proc = None
        stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
        if self._stop_reason is not None:
            raise TerraformStoppedError(self._stop_reason, stderr)
        return proc.returncode, stdout, stderr

    def _communicate(self, proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
        try:
            return proc.communicate(timeout=max(self.deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self.stop(f"timed out after {self.timeout_seconds:g}s")
        try:
            return proc.communicate(timeout=self.grace_seconds)
        except subprocess.TimeoutExpired:
            # Terraform ignored SIGINT, or a straggler in its group still holds
            # our pipes open: nothing of this run may outlive it.
            self.kill()
            return proc.communicate()
        finally:
            if self._stop_reason is not None:
                self.kill()

    def stop(self, reason: str) -> None:
        """Interrupt the running command (SIGINT) and refuse to start more."""
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason
            self._signal(signal.SIGINT)

    def kill(self) -> None:
        """Last resort after ``stop``: SIGKILL the whole process group."""
        with self._lock:
            self._signal(signal.SIGKILL, even_if_leader_exited=True)

    def _signal(self, sig: signal.Signals, *, even_if_leader_exited: bool = False) -> None:
        proc = self._proc
        if proc is None or (proc.returncode is not None and not even_if_leader_exited):
            return
        # The group outlives its leader while any member lives; once all are
        # gone killpg fails, which is the outcome we wanted.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
