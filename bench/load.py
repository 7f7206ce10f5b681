"""Load and faults: the service under gunicorn and a qcluster, driven over HTTP by 52 users.

50 experts pull and answer work as fast as the service hands it out, now and then reading
their history and earnings and withdrawing; 2 customers read their project, its progress,
items, review queue, money, agreement report and export, accept reviews, and upload small
batches. Everything goes over real HTTP with token auth to gunicorn's sync workers, and
background jobs go through Redis to a separate ``manage.py qcluster``, both with ``DEBUG``
off, as production runs them (see ``bench.servers``).

The figures are requests per second and, per route, p50 and p99 latency, with the count of
server errors (any 5xx or failed connection; expected answers such as ``204`` or ``409`` are
not errors). The baseline is the same routes driven by one client at a time (an expert, then
a customer) in the same run: the ratio says how much 52 users slow each request down.

The fault run is the same load, with a batch larger than ``BATCH_SYNC_ROW_LIMIT`` uploaded
early on; while its background job runs, the job worker running it is killed with SIGKILL,
and half-way through the run one gunicorn worker is killed too (gunicorn's master starts
another). Afterwards every invariant in ``bench.invariants`` is checked in the database, and
the batch must end ``done`` once with exactly its rows. Requests that fail while the killed
web worker is replaced are counted apart; outside that window there must be none.

``BENCH_LOAD_SECONDS`` sets the length of each loaded run (default 60),
``BENCH_REDIS_DB`` the Redis database the run empties and uses (default 11), and
``BENCH_LOAD_BATCH_WAIT_S`` how long the large batch may take to end after the fault run
(default 300).
"""

import http.client
import json
import os
import signal
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection, connections
from django.test.utils import override_settings
from knox.models import AuthToken

from accounts import services as account_services
from accounts.models import Domain, Membership
from marketplace import services as money_services
from tasks import services
from tasks.models import Item

from . import clients, invariants
from .common import conninfo, operator_and_owner, result, verified_experts
from .servers import Servers, cpu_seconds, machine_busy_seconds, serving

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "11"))
EXPERTS = 50
CUSTOMERS = 2
CLIENT_PROCESSES = 4
WEB_WORKERS = 4
JOB_WORKERS = 2
ITEMS = 20_000
OVERLAP = 3
SYNC_ROW_LIMIT = 1_000
LARGE_BATCH_ROWS = 100_000
BATCH_WAIT_S = float(os.environ.get("BENCH_LOAD_BATCH_WAIT_S", "300"))
RECOVERY_MARGIN_S = 1.0
LOGS = Path(settings.VAR_DIR) / "bench" / "load"


def _item_data(n: int) -> dict:
    return {"prompt": f"Is a troponin of {n % 90} ng/L after chest pain a myocardial injury?",
            "completions": [f"Yes, above the 99th percentile ({n}).",
                            f"Not on its own; repeat it in three hours ({n})."]}


# Bench users sign in with tokens made here; hashing their passwords the production way
# would only add seconds to the set-up.
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
def _seed() -> dict:
    """An organization with funds, its owner and an admin, a published project with items,
    and verified experts qualified for its domain; a token for each user."""
    operator, owner = operator_and_owner()
    organization = owner.memberships.get().organization
    analyst = account_services.User.objects.create_user("bench-admin", "admin@bench.test", "x")
    account_services.add_member(organization=organization, actor=owner, user=analyst,
                                role=Membership.Role.ADMIN)
    money_services.record_deposit(organization=organization, amount=Decimal("1000000.00"),
                                  currency="USD", reference="BENCH-WIRE-1", by=operator)
    domain = Domain.objects.get(slug="medicine-cardiology")
    project = services.create_project(
        user=owner, organization=organization, name="Load bench", domain=domain,
        preset="preference", overlap=OVERLAP, max_overlap=OVERLAP, gold_rate=Decimal("0"),
        review_rate=Decimal("0.2"), price_per_item=Decimal("2.50"), currency="USD")
    Item.objects.bulk_create(
        [Item(project=project, external_id=f"seed-{n}", overlap=OVERLAP, data=_item_data(n))
         for n in range(ITEMS)], batch_size=2000)
    services.transition_project(user=owner, project=project, action="activate")
    experts = verified_experts(EXPERTS, domain, operator)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"project": project.pk, "organization": organization.pk,
            "owner": AuthToken.objects.create(owner)[1],
            "customers": [AuthToken.objects.create(user)[1] for user in (owner, analyst)],
            "experts": [AuthToken.objects.create(user)[1] for user in experts]}


def _post(servers: Servers, token: str, path: str, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", servers.port, timeout=600)
    try:
        conn.request("POST", path, body=body, headers={
            "Authorization": f"Token {token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        content = response.read()
    finally:
        conn.close()
    return response.status, json.loads(content) if content else {}


def _start_report(servers: Servers, seed: dict) -> int | None:
    status, body = _post(servers, seed["owner"], f"/api/v1/projects/{seed['project']}/reports/",
                         b"{}")
    return body.get("id") if status == 202 else None


def _large_batch(label: str) -> bytes:
    return json.dumps([{"external_id": f"{label}-{n}", "data": _item_data(n)}
                       for n in range(LARGE_BATCH_ROWS)]).encode()


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _is_error(call: clients.Call) -> bool:
    return call[3] == 0 or call[3] >= 500


def _routes(calls: list[clients.Call]) -> dict[str, dict]:
    by_route = defaultdict(list)
    for call in calls:
        by_route[call[0]].append(call)
    figures = {}
    for route, made in sorted(by_route.items()):
        seconds = sorted(call[2] for call in made)
        figures[route] = {
            "count": len(made), "p50_ms": round(_percentile(seconds, 0.5) * 1000, 1),
            "p99_ms": round(_percentile(seconds, 0.99) * 1000, 1),
            "errors": sum(_is_error(call) for call in made),
            "4xx": sum(400 <= call[3] < 500 for call in made)}
    return figures


def _overall(calls: list[clients.Call]) -> tuple[float, float]:
    seconds = sorted(call[2] for call in calls)
    return _percentile(seconds, 0.5) * 1000, _percentile(seconds, 0.99) * 1000


def _print_table(title: str, routes: dict[str, dict], baseline: dict[str, dict]) -> None:
    print(f"\n{title}", file=sys.stderr)
    print(f"{'route':58} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'1-client p50':>13} "
          f"{'errors':>6} {'4xx':>5}", file=sys.stderr)
    for route, figures in routes.items():
        alone = baseline.get(route, {}).get("p50_ms")
        print(f"{route:58} {figures['count']:6} {figures['p50_ms']:8} {figures['p99_ms']:8} "
              f"{alone if alone is not None else '-':>13} {figures['errors']:6} "
              f"{figures['4xx']:5}", file=sys.stderr)


def _users(seed: dict, experts: int, customers: int) -> list[tuple[str, str]]:
    return ([("expert", token) for token in seed["experts"][:experts]]
            + [("customer", token) for token in seed["customers"][:customers]])


def _target(servers: Servers, seed: dict, label: str) -> clients.Target:
    return clients.Target(port=servers.port, project=seed["project"],
                          organization=seed["organization"],
                          report=_start_report(servers, seed), label=label)


def _baseline(servers: Servers, seed: dict) -> tuple[clients.Tally, float]:
    """One client at a time: an expert alone, then a customer alone."""
    seconds = max(10.0, SECONDS / 3)
    merged, elapsed = clients.Tally(), 0.0
    for label, users in (("alone-e", _users(seed, 1, 0)),
                         ("alone-c", [("customer", seed["customers"][0])])):
        tally, took = clients.run(_target(servers, seed, label), users, seconds / 2,
                                  processes=1)
        merged.calls += tally.calls
        merged.notes += tally.notes
        elapsed += took
    return merged, elapsed


class Faults:
    """What the fault run does while the load runs, and when."""

    def __init__(self, servers: Servers, seed: dict, dsn: str) -> None:
        self.servers, self.seed, self.dsn = servers, seed, dsn
        self.events: dict = {}
        self.batch_id: int | None = None

    def _batch_status(self) -> str:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute("SELECT status FROM tasks_batch WHERE id = %s",
                                [self.batch_id]).fetchone()[0]

    def _kill_job_worker(self) -> None:
        body = _large_batch("large")
        status, answer = _post(self.servers, self.seed["owner"],
                               f"/api/v1/projects/{self.seed['project']}/batches/", body)
        if status != 202:
            self.events["job_kill"] = f"the large upload was answered {status}: {answer}"
            return
        self.batch_id = answer["id"]
        deadline = time.monotonic() + 60
        while self._batch_status() == "pending" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        pid, used = self.servers.busiest_job_worker()
        before = self._batch_status()
        os.kill(pid, signal.SIGKILL)
        self.events["job_kill"] = {"at": time.time(), "pid": pid, "cpu_s_in_sample": used,
                                   "batch_status_at_kill": before}

    def _kill_web_worker(self) -> None:
        workers = self.servers.web_workers()
        pid = max(workers, key=cpu_seconds)
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            workers = self.servers.web_workers()
            if pid not in workers and len(workers) == WEB_WORKERS:
                break
            time.sleep(0.05)
        self.events["web_kill"] = {"at": killed_at, "pid": pid,
                                   "replaced_after_s": round(time.time() - killed_at, 2)}

    def __call__(self, started_at: float) -> None:
        time.sleep(max(0.0, started_at + SECONDS * 0.15 - time.time()))
        self._kill_job_worker()
        time.sleep(max(0.0, started_at + SECONDS * 0.5 - time.time()))
        self._kill_web_worker()

    def window(self) -> tuple[float, float]:
        kill = self.events.get("web_kill")
        if not isinstance(kill, dict):
            return (0.0, 0.0)
        return kill["at"], kill["at"] + kill["replaced_after_s"] + RECOVERY_MARGIN_S


def _database_cpu(dsn: str, dbname: str, since: dict[int, float]) -> dict[int, float]:
    """CPU seconds each PostgreSQL backend serving ``dbname`` used, less what it had used
    at ``since``: with the web and job processes, the whole service's share of the
    machine, which is shared."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [dbname]).fetchall()]
    return {pid: cpu_seconds(pid) - since.get(pid, 0.0) for pid in pids}


def _wait_for_batch(dsn: str, batch_id: int) -> float:
    """Seconds until the batch and the durable job behind it (where there is that table)
    ended, or until BATCH_WAIT_S ran out."""
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        durable = conn.execute("SELECT to_regclass('durable_job')").fetchone()[0]
        while time.monotonic() - started < BATCH_WAIT_S:
            status = conn.execute("SELECT status FROM tasks_batch WHERE id = %s",
                                  [batch_id]).fetchone()[0]
            running = durable and conn.execute(
                "SELECT count(*) FROM durable_job WHERE key = %s AND status IN "
                "('queued', 'running')", [f"tasks.process_batch:{batch_id}"]).fetchone()[0]
            if status in ("done", "failed") and not running:
                break
            time.sleep(1)
    return time.monotonic() - started


@dataclass
class Outcome:
    """Everything measured in one run of the benchmark."""

    alone: clients.Tally
    alone_s: float
    loaded: clients.Tally
    loaded_s: float
    server_cpu_s: float
    database_cpu_s: float
    machine_cpu_s: float
    faulted: clients.Tally
    faulted_s: float
    faults: Faults
    batch: dict | None
    batch_wait_s: float
    broken: dict[str, dict]
    tracebacks: list[str]
    load_average: list[float]


def run() -> list[dict]:
    seed = _seed()
    dbname = connection.settings_dict["NAME"]
    dsn = conninfo(dbname)
    connections.close_all()
    users = _users(seed, EXPERTS, CUSTOMERS)
    with tempfile.TemporaryDirectory() as var_dir, \
            serving(dbname, var_dir=Path(var_dir), logs=LOGS, redis_db=REDIS_DB,
                    web_workers=WEB_WORKERS, job_workers=JOB_WORKERS,
                    BATCH_SYNC_ROW_LIMIT=str(SYNC_ROW_LIMIT)) as servers:
        alone, alone_s = _baseline(servers, seed)
        cpu_before = (servers.server_cpu_seconds(), _database_cpu(dsn, dbname, {}),
                      machine_busy_seconds())
        loaded, loaded_s = clients.run(_target(servers, seed, "load"), users, SECONDS,
                                       processes=CLIENT_PROCESSES)
        server_cpu_s = servers.server_cpu_seconds() - cpu_before[0]
        database_cpu_s = sum(_database_cpu(dsn, dbname, cpu_before[1]).values())
        machine_cpu_s = machine_busy_seconds() - cpu_before[2]
        load_average = [round(value, 2) for value in os.getloadavg()]
        faults = Faults(servers, seed, dsn)
        faulted, faulted_s = clients.run(_target(servers, seed, "fault"), users, SECONDS,
                                         processes=CLIENT_PROCESSES, during=faults)
        batch, waited = None, 0.0
        if faults.batch_id:
            waited = _wait_for_batch(dsn, faults.batch_id)
            batch = invariants.batch_outcome(dsn, faults.batch_id, LARGE_BATCH_ROWS,
                                             Path(var_dir))
        tracebacks = servers.tracebacks()
    broken = invariants.violations(dsn, excluded_batches=[faults.batch_id or 0])
    outcome = Outcome(alone, alone_s, loaded, loaded_s, server_cpu_s, database_cpu_s,
                      machine_cpu_s, faulted, faulted_s, faults, batch, waited, broken, tracebacks,
                      load_average)
    _report(outcome)
    return _results(outcome)


def _report(outcome: Outcome) -> None:
    alone = _routes(outcome.alone.calls)
    _print_table(f"Load: {EXPERTS} experts and {CUSTOMERS} customers for {SECONDS:.0f} s",
                 _routes(outcome.loaded.calls), alone)
    _print_table("Fault run: a job worker and a web worker killed",
                 _routes(outcome.faulted.calls), alone)
    seconds = outcome.loaded_s
    print(f"\nCores used during the load run: clients {outcome.loaded.cpu_s / seconds:.2f}, "
          f"web and job processes {outcome.server_cpu_s / seconds:.2f}, PostgreSQL "
          f"{outcome.database_cpu_s / seconds:.2f}; the whole machine "
          f"{outcome.machine_cpu_s / seconds:.2f} of {os.cpu_count()}", file=sys.stderr)
    for text in outcome.tracebacks[:5]:
        print(f"\nServer traceback:\n{text}", file=sys.stderr)


def _kinds(calls: list[clients.Call]) -> list[str]:
    return sorted({f"{call[0]} {call[3] or call[4]}" for call in calls})[:20]


def _killed_mid_job(faults: Faults) -> bool:
    """Whether the job worker was killed while the batch was still being ingested; when
    not, the batch's figure says nothing about surviving the kill."""
    kill = faults.events.get("job_kill")
    return isinstance(kill, dict) and kill["batch_status_at_kill"] == "processing"


def _results(outcome: Outcome) -> list[dict]:
    loaded, faulted = outcome.loaded, outcome.faulted
    alone_routes, routes = _routes(outcome.alone.calls), _routes(loaded.calls)
    p50, p99 = _overall(loaded.calls)
    alone_p50, alone_p99 = _overall(outcome.alone.calls)
    opened, closed = outcome.faults.window()
    errors = [call for call in faulted.calls if _is_error(call)]
    in_window = [call for call in errors if opened <= call[1] + call[2] <= closed]
    outside = [call for call in errors if not opened <= call[1] + call[2] <= closed]
    rate = len(loaded.calls) / outcome.loaded_s
    return [
        result("load_throughput", rate, "requests/s",
               baseline=len(outcome.alone.calls) / outcome.alone_s, target=None,
               clients=EXPERTS + CUSTOMERS, seconds=SECONDS, requests=len(loaded.calls),
               client_cpu_cores=round(loaded.cpu_s / outcome.loaded_s, 2),
               server_cpu_cores=round(outcome.server_cpu_s / outcome.loaded_s, 2),
               database_cpu_cores=round(outcome.database_cpu_s / outcome.loaded_s, 2),
               machine_busy_cores=round(outcome.machine_cpu_s / outcome.loaded_s, 2),
               service_cpu_ms_per_request=round(
                   (outcome.server_cpu_s + outcome.database_cpu_s) * 1000 / len(loaded.calls),
                   1),
               machine_cores=os.cpu_count(),
               notes=dict(loaded.notes), load_average=outcome.load_average, logs=str(LOGS)),
        result("load_p50", p50, "ms", baseline=alone_p50, target=None),
        result("load_p99", p99, "ms", baseline=alone_p99, target=None, routes={
            route: {**figures, "alone_p50_ms": alone_routes.get(route, {}).get("p50_ms"),
                    "alone_p99_ms": alone_routes.get(route, {}).get("p99_ms")}
            for route, figures in routes.items()}),
        result("load_errors", sum(map(_is_error, loaded.calls)), "errors", target="0",
               kinds=_kinds([call for call in loaded.calls if _is_error(call)])),
        result("fault_throughput", len(faulted.calls) / outcome.faulted_s, "requests/s",
               baseline=rate, target=None, notes=dict(faulted.notes),
               events=outcome.faults.events, routes=_routes(faulted.calls)),
        result("fault_errors_in_kill_window", len(in_window), "errors", target="reported",
               window_s=round(closed - opened, 2), kinds=_kinds(in_window),
               in_flight_at_kill=sum(call[1] <= opened for call in in_window)),
        result("fault_errors_outside_kill_window", len(outside), "errors", target="0",
               kinds=_kinds(outside)),
        result("fault_invariant_violations",
               sum(check["count"] for check in outcome.broken.values()), "rows", target="0",
               checks=outcome.broken),
        result("fault_large_batch", int(bool(outcome.batch and outcome.batch["ok"])),
               "done with its rows", target="1", waited_s=round(outcome.batch_wait_s, 1),
               killed_mid_job=_killed_mid_job(outcome.faults), batch=outcome.batch),
        result("server_tracebacks", len(outcome.tracebacks), "tracebacks", target="0",
               first=outcome.tracebacks[:3]),
    ]
