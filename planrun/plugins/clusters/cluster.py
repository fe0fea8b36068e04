"""A throwaway PostgreSQL cluster: initdb in a temporary folder, a free port, pg_ctl start,
and everything removed on stop. Used by ``planrun test``, the demo and the test suite.

The server outlives no one: a watchdog process (a session of its own, so a ``kill`` of the
owner's process group spares it) holds one end of a pipe whose other end only the owner holds.
When the owner ends in any way, ``kill -9`` included, the pipe closes, and the watchdog stops
the server and removes its folder; a ``planrun test`` killed mid-run left its server running
for good before.

initdb refuses to run as root; as root the cluster runs as the ``postgres`` user Debian's
package creates (through ``runuser``), in a folder that user owns.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..pg.tools import find_pg_bin

# The watchdog: blocks until every holder of the pipe's write end is gone, then stops the server
# (argv: the read end, the folder, the stop command) and removes the folder.
_WATCHDOG = """
import os, shutil, subprocess, sys
fd, root, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while os.read(fd, 1):
    pass
if os.path.exists(os.path.join(root, "data")):
    subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(root, ignore_errors=True)
"""


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TempCluster:
    """``with TempCluster() as cluster: cluster.url("mydb")``. The superuser ``postgres`` has a
    password (``password``), so connections go over TCP with SCRAM like a real server's."""

    def __init__(self, password: str = "planrun-secret-pw", bin_dir: str | None = None, durable: bool = False):
        self.bin_dir = bin_dir or find_pg_bin()
        self.durable = durable  # keep synchronous_commit on: a commit survives crash()
        self.password = password
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="planrun-pg-"))
        self.data = self.root / "data"
        self.user = None
        self._lifeline: int | None = None  # the pipe's end the watchdog waits on (see the module's docstring)
        if os.geteuid() == 0:
            self.user = "postgres"
            try:
                shutil.chown(self.root, user="postgres", group=None)
            except LookupError:
                raise ClusterError("running as root but there is no 'postgres' user to run the cluster as") from None
            os.chmod(self.root, 0o700)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [os.path.join(self.bin_dir, args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise ClusterError(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def start(self) -> TempCluster:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.user:
            shutil.chown(pwfile, user=self.user)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        pwfile.unlink()
        self._start_server()
        self._watch_owner()
        return self

    def _watch_owner(self) -> None:
        """Start the watchdog that stops the server once this process is gone (see above)."""
        read_end, write_end = os.pipe()
        stop = [os.path.join(self.bin_dir, "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        if self.user:
            stop = ["runuser", "-u", self.user, "--", *stop]
        subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(read_end), str(self.root), *stop],
            pass_fds=(read_end,),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(read_end)
        self._lifeline = write_end

    def _start_server(self) -> None:
        commit = "" if self.durable else " -c synchronous_commit=off"
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off{commit} "
            "-c full_page_writes=off -c max_connections=100 -c max_prepared_transactions=20"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def crash(self) -> None:
        """Stop the server the hard way (``pg_ctl stop -m immediate``: no clean shutdown, as a
        crash or a failover would), keeping its data for :meth:`restart`."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def restart(self) -> None:
        """Start the server again after :meth:`crash` (it recovers from its WAL)."""
        self._start_server()

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        lifeline, self._lifeline = self._lifeline, None
        if lifeline is not None:
            os.close(lifeline)  # the watchdog finds nothing left to do and ends

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        return f"{driver}://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def admin_connection(self):
        import psycopg2

        conn = psycopg2.connect(self.url())
        conn.autocommit = True
        return conn

    def create_database(self, name: str, template: str = "template0") -> str:
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def execute(self, sql: str) -> None:
        """One statement on the maintenance database, outside any transaction."""
        conn = self.admin_connection()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()

    def __enter__(self) -> TempCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
