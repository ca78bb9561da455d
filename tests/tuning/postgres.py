"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package, a temporary data directory, loopback
only, a free port, run as a non-root user (PostgreSQL refuses to run as root), stopped at teardown."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def find_bin_dir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: Debian keeps them in /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``start()`` runs initdb and pg_ctl; ``url`` is ``postgresql://handgrad@127.0.0.1:PORT/handgrad``."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.user = None
        if os.geteuid() == 0:  # run the server as 'postgres' (Debian's package creates it) or 'nobody'
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                    self.user = name
                    break
                except KeyError:
                    continue
            if self.user is None:
                pytest.skip("PostgreSQL must run as a non-root user and neither 'postgres' nor 'nobody' exists")
        self.dir = Path(tempfile.mkdtemp(prefix="handgrad-pg-", dir="/tmp"))
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.data = self.dir / "data"
        self.port = None

    def _run(self, tool: str, *args, check=True):
        command = [str(self.bin_dir / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "PostgresServer":
        self._run("initdb", "-D", str(self.data), "-U", "handgrad", "--auth=trust", "-E", "UTF8", "--no-sync")
        for _ in range(3):  # the port found free may be taken before the server binds it: try another
            self.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off")
            result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60",
                               "-o", options, "start", check=False)
            if result.returncode == 0:
                break
        else:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log}")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "handgrad", "handgrad")
        return self

    @property
    def url(self) -> str:
        return f"postgresql://handgrad@127.0.0.1:{self.port}/handgrad"

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_server():
    """Generator for a fixture: yields a started ``PostgresServer``, or skips saying why there is none."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; 'make test' installs it when "
                    "run as root with apt-get)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without 'runuser': cannot start PostgreSQL as a non-root user")
    server = PostgresServer(bin_dir)
    try:
        yield server.start()
    finally:
        server.stop()
