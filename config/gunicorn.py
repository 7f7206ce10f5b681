"""gunicorn's settings for the web processes: ``gunicorn -c config/gunicorn.py config.wsgi``.

Every worker is a process of its own, so Prometheus metrics are kept in prometheus_client's
multiprocess mode: each worker writes its samples to files under ``PROMETHEUS_MULTIPROC_DIR``
and a scrape of any worker sums them. The directory is emptied when gunicorn starts (samples
of an earlier run would otherwise count again), and a worker that exits is marked dead so
that its gauges stop counting while its counters and histograms keep what it recorded.

Settings on the command line (``--workers``, ``--bind``) override the defaults here.
"""

import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import multiprocess

# Before any worker starts: workers import prometheus_client after the fork, and it chooses
# multiprocess mode when the variable is set at import.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                      str(Path(tempfile.gettempdir()) / f"annomarket-metrics-{os.getpid()}"))

wsgi_app = "config.wsgi:application"
bind = "0.0.0.0:8000"
# WEB_CONCURRENCY is gunicorn's own variable; about two workers per core for this workload.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# A batch of up to BATCH_SYNC_ROW_LIMIT rows is ingested during its request.
timeout = 120
graceful_timeout = 30
# Restarting a worker now and then returns whatever memory it grew to.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
# gunicorn's control interface is a socket under the user's home, one for every gunicorn on
# the host; nothing here uses it, and two servers on one host would contend for it.
control_socket_disable = True


def on_starting(server) -> None:
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def child_exit(server, worker) -> None:
    multiprocess.mark_process_dead(worker.pid)
