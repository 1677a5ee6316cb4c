"""Debian's PostgreSQL as a local server process for the real node's pods.

The server runs from the installed package's binaries (``/usr/lib/postgresql/<v>/bin``,
``hack/install-system-deps.sh`` installs it), as the ``postgres`` user when the
tests run as root, on a private data directory under the cluster folder. It
listens on loopback (for the test's own queries) and on the real node's
address, the pods' gateway on the node's bridge, which is the one address of
this machine the pods reach (hack/node/lib.sh); pg_hba admits the pods' subnet
only, with a password. Debian's own service (the main cluster on :5432) is
neither used nor touched.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60
QUERY_TIMEOUT_S = 30


def pg_bin_dir() -> Path | None:
    """The bin folder of the newest PostgreSQL installed, or None."""
    found = [d for d in PG_ROOT.glob("*/bin") if (d / "initdb").is_file()]
    numbered = [d for d in found if re.fullmatch(r"\d+", d.parent.name)]
    return max(numbered, key=lambda d: int(d.parent.name)) if numbered else None


class LocalPostgres:
    """One server: ``start()`` makes the data dir, the role and the database; ``stop()``
    stops it and removes the data dir (kept with BLUEGREEN_KEEP_CLUSTER=1)."""

    def __init__(
        self, bin_dir: Path, data_dir: Path, listen: str, port: int, clients: str, name: str
    ) -> None:
        self.bin, self.data, self.listen, self.port = bin_dir, data_dir, listen, port
        self.clients = clients  # the CIDR allowed in over TCP, besides loopback
        self.database = self.user = name
        self.password = secrets.token_hex(16)
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.started = False

    def url(self, host: str) -> str:
        """What APP_DATABASE_URL is, for clients reaching the server at ``host``."""
        return f"postgresql://{self.user}:{self.password}@{host}:{self.port}/{self.database}"

    def _as_owner(self, *args: str, timeout: float = START_TIMEOUT_S) -> str:
        """A server binary run as the data dir's owner (PostgreSQL refuses root)."""
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def start(self) -> None:
        self.data.parent.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(mode=0o700)
        self.log.touch()
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.log, "postgres", "postgres")
        self._as_owner(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",  # the socket lives in the 0700 data dir
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1,{self.listen}'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.data}'\n"
            )
        with (self.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write(f"host {self.database} {self.user} {self.clients} scram-sha-256\n")
        self._as_owner(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"
        )
        self.started = True
        setup = (
            f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}';"
            f"CREATE DATABASE {self.database} OWNER {self.user};"
        )
        for statement in setup.split(";")[:2]:
            self._as_owner(
                "psql", "-h", str(self.data), "-p", str(self.port), "-U", "postgres",
                "-v", "ON_ERROR_STOP=1", "-qc", statement, "postgres",
            )  # fmt: skip

    def query(self, sql: str) -> list[list[str]]:
        """Rows of ``sql``, as the app's role over TCP on loopback; fields as text."""
        done = subprocess.run(
            [str(self.bin / "psql"), self.url("127.0.0.1"), "-v", "ON_ERROR_STOP=1",
             "-AtF", "\t", "-c", sql],
            capture_output=True,
            text=True,
            timeout=QUERY_TIMEOUT_S,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(f"psql {sql!r}: {done.stderr.strip()}")
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def stop(self) -> None:
        if self.started:
            self._as_owner("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
            self.started = False
        if os.environ.get("BLUEGREEN_KEEP_CLUSTER") != "1":
            shutil.rmtree(self.data, ignore_errors=True)
            self.log.unlink(missing_ok=True)
