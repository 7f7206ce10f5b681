"""The service run as it runs in production, in processes of its own, against the test
database: gunicorn (with ``config/gunicorn.py``) or the development server; and what it
answers, read."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
# A closed port on this machine: connecting to it is refused at once.
CLOSED = "127.0.0.1:9"


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def get(url: str, headers: dict | None = None, timeout: float = 30) -> Answer:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def samples(scrape: str) -> dict[tuple, float]:
    """Every sample of a Prometheus scrape, by name and sorted labels."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(scrape) for sample in family.samples}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(**query: str) -> str:
    """The URL of the database this test run uses (PostgreSQL only)."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    address = db["HOST"] + (f":{db['PORT']}" if db["PORT"] else "")
    options = "&".join(f"{name}={value}" for name, value in query.items())
    return f"postgres://{credentials}@{address}/{db['NAME']}" + (f"?{options}" if options
                                                                 else "")


def server_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Production settings over plain HTTP on 127.0.0.1; nothing from the shell leaks in."""
    return {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x",
            "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1", **overrides}


@contextmanager
def serving(command: list[str], port: int, env: dict[str, str],
            log: Path) -> Iterator[subprocess.Popen]:
    """Start the server and wait until ``/healthz`` answers; stop it afterwards."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{log.read_text()}")
            try:
                if get(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer:\n{log.read_text()}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def gunicorn(tmp_path: Path, *, workers: int = 1,
             **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn with the production configuration file; the base URL and the master."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py",
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    settings = server_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"), **env)
    with serving(command, port, settings, tmp_path / "gunicorn.log") as process:
        yield f"http://127.0.0.1:{port}", process


@contextmanager
def runserver(tmp_path: Path, **env: str) -> Iterator[str]:
    """Django's development server: one process, a thread per request."""
    port = free_port()
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with serving(command, port, server_env(tmp_path, **env), tmp_path / "runserver.log"):
        yield f"http://127.0.0.1:{port}"
