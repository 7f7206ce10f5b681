"""The service as production runs it, in processes of its own: gunicorn (with the project's
``config/gunicorn.py``) and a qcluster.

Both are started with the environment a production host would give them (``DEBUG`` off, a
secret key, allowed hosts, Redis as the broker) against the benchmark's database, and both
log to files, so that a server error under load leaves its traceback where it can be read.
The process tree is read from ``/proc``: which processes are gunicorn's workers and which
are the qcluster's job workers, and how much CPU each has used, so that a benchmark can kill
the one that is running a job.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from django.conf import settings

from .common import BenchError

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(dbname: str) -> str:
    """``DATABASE_URL`` with its database replaced by the benchmark's own."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise BenchError("Benchmarks need PostgreSQL: set DATABASE_URL=postgres://...")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far; 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot, all cores together."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


@dataclass
class Servers:
    """What a benchmark needs to know about the running service."""

    port: int
    web: subprocess.Popen
    jobs: subprocess.Popen
    logs: Path
    var_dir: Path
    helpers: tuple[int, ...] = ()

    def web_workers(self) -> list[int]:
        return children(self.web.pid)

    def job_processes(self) -> list[int]:
        """Every child of the qcluster's sentinel: its workers, monitor and pusher."""
        sentinels = children(self.jobs.pid)
        return children(sentinels[0]) if len(sentinels) == 1 else []

    def job_workers(self) -> list[int]:
        """The qcluster's worker processes: the sentinel's children other than the monitor
        and the pusher, which it starts after the first workers and does not replace."""
        return [pid for pid in self.job_processes() if pid not in self.helpers]

    def busiest_job_worker(self, sample_s: float = 0.5) -> tuple[int, float]:
        """The job worker that used the most CPU over ``sample_s``, and how much it used:
        the one running a long job."""
        workers = self.job_workers()
        before = {pid: cpu_seconds(pid) for pid in workers}
        time.sleep(sample_s)
        used = {pid: cpu_seconds(pid) - before[pid] for pid in workers}
        busiest = max(used, key=used.get)
        return busiest, used[busiest]

    def server_cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in
                   [self.web.pid, *descendants(self.web.pid), self.jobs.pid,
                    *descendants(self.jobs.pid)])

    def tracebacks(self) -> list[str]:
        """Every traceback the web and job processes logged, each as one text."""
        found = []
        for name in ("gunicorn.log", "qcluster.log"):
            lines = (self.logs / name).read_text(errors="replace").splitlines()
            for start, line in enumerate(lines):
                if line.startswith("Traceback"):
                    end = start + 1
                    while end < len(lines) and (lines[end].startswith((" ", "\t"))
                                                or lines[end] == ""):
                        end += 1
                    found.append("\n".join(lines[max(0, start - 1):end + 1]))
        return found


def environment(dbname: str, var_dir: Path, redis_url: str, **extra: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url(dbname), "DEBUG": "0",
           "SECRET_KEY": settings.SECRET_KEY, "ALLOWED_HOSTS": "127.0.0.1,localhost",
           "SECURE_SSL_REDIRECT": "0", "REDIS_URL": redis_url, "VAR_DIR": str(var_dir),
           "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", **extra}
    env.pop("TEST_DATABASE_NAME", None)
    return env


def _wait_for_ready(port: int, web: subprocess.Popen, timeout_s: float = 60) -> None:
    """Until ``/readyz`` answers 200: gunicorn serves, and reaches the database, the broker
    and the cache."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise BenchError("gunicorn exited at start; see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if conn.recv(12).split()[1:2] == [b"200"]:
                    return
        except (OSError, IndexError):
            pass
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer /readyz on port {port} within {timeout_s:.0f} s")


def _wait_for_cluster(servers: Servers, workers: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if servers.jobs.poll() is not None:
            raise BenchError("qcluster exited at start; see its log")
        processes = servers.job_processes()
        if len(processes) >= workers + 2:
            servers.helpers = tuple(processes[-2:])
            return
        time.sleep(0.2)
    raise BenchError(f"qcluster did not start {workers} workers within {timeout_s:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serving(dbname: str, *, var_dir: Path, logs: Path, redis_db: int, web_workers: int,
            job_workers: int, **extra_env: str) -> Iterator[Servers]:
    """gunicorn and a qcluster on ``dbname``; Redis database ``redis_db`` is emptied first,
    so that no job of an earlier run is waiting on the queue."""
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    broker = redis.Redis.from_url(redis_url)
    try:
        broker.flushdb()
    except redis.RedisError as exc:
        raise BenchError(f"The load benchmark needs Redis at {redis_url}: {exc}") from exc
    logs.mkdir(parents=True, exist_ok=True)
    env = environment(dbname, var_dir, redis_url, Q_WORKERS=str(job_workers), **extra_env)
    port = free_port()
    bin_dir = Path(sys.executable).parent
    with (logs / "gunicorn.log").open("w") as web_log, \
            (logs / "qcluster.log").open("w") as jobs_log:
        web = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "--config", "config/gunicorn.py",
             "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers),
             "--no-control-socket"],
            env={**env, "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "metrics")},
            stdout=web_log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR)
        jobs = subprocess.Popen([sys.executable, "manage.py", "qcluster"], env=env,
                                stdout=jobs_log, stderr=subprocess.STDOUT,
                                cwd=settings.BASE_DIR)
        servers = Servers(port=port, web=web, jobs=jobs, logs=logs, var_dir=var_dir)
        try:
            _wait_for_ready(port, web)
            _wait_for_cluster(servers, job_workers)
            yield servers
        finally:
            _stop(web)
            _stop(jobs)
            broker.flushdb()
