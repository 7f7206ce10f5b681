"""API clients for the load benchmark: experts and customers as their scripts drive the API.

Every user is a thread with one keep-alive ``http.client`` connection and token auth, and
the users are spread over several forked processes, so that neither one interpreter's lock
nor one process's CPU limits what the clients can send; each process reports the CPU it
used, which shows whether the clients or the service were the limit. Every call is recorded
by its route template (``/api/v1/assignments/{id}/submit/``), never its raw path, with its
wall-clock start, duration and status; a connection error is recorded as status 0.
"""

import http.client
import json
import multiprocessing
import random
import resource
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# (endpoint, started at (wall clock), seconds, status, error)
Call = tuple[str, float, float, int, str]

NETWORK_ERRORS = (OSError, http.client.HTTPException)


@dataclass(frozen=True)
class Target:
    """What every client works on."""

    port: int
    project: int
    organization: int
    report: int | None
    label: str


@dataclass
class Tally:
    """One process's record: its calls, its notes on what the answers said, its CPU."""

    calls: list[Call] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)
    cpu_s: float = 0.0


class Session:
    """One user's connection; every request is timed and recorded."""

    def __init__(self, port: int, token: str, tally: Tally, lock: threading.Lock) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.tally = tally
        self.lock = lock

    def note(self, what: str, count: int = 1) -> None:
        with self.lock:
            self.tally.notes[what] += count

    def request(self, method: str, endpoint: str, path: str, body: Any = None, *,
                headers: dict | None = None, parse: bool = True) -> tuple[int, Any]:
        """``(status, parsed JSON or None)``; status 0 when the connection failed."""
        payload = None if body is None else (body if isinstance(body, bytes)
                                             else json.dumps(body).encode())
        sent = {**self.headers, **(headers or {})}
        if payload is not None:
            sent["Content-Type"] = "application/json"
        started_at, started = time.time(), time.perf_counter()
        try:
            self.connection.request(method, path, body=payload, headers=sent)
            response = self.connection.getresponse()
            content = response.read()
            status, error = response.status, ""
        except NETWORK_ERRORS as exc:
            self.connection.close()
            status, error, content = 0, type(exc).__name__, b""
        seconds = time.perf_counter() - started
        with self.lock:
            self.tally.calls.append((f"{method} {endpoint}", started_at, seconds, status, error))
        if not parse or not content or not 200 <= status < 300:
            return status, None
        try:
            return status, json.loads(content)
        except ValueError:
            self.note("unparsable answers")
            return status, None


def _submit(session: Session, rng: random.Random, assignment_id: int) -> int:
    status, _ = session.request(
        "POST", "/api/v1/assignments/{id}/submit/",
        f"/api/v1/assignments/{assignment_id}/submit/",
        {"answer": {"better": rng.choice("AB")}, "duration_s": rng.randint(5, 90)})
    return status


def _finish_open_leases(session: Session, rng: random.Random) -> None:
    """Submit what this expert still holds, as a client does after losing its connection
    (the lease may have been granted in a request whose answer never arrived)."""
    status, page = session.request("GET", "/api/v1/assignments/",
                                   "/api/v1/assignments/?status=assigned")
    for leased in (page or {}).get("results", []) if status == 200 else []:
        if _submit(session, rng, leased["id"]) == 200:
            session.note("leases resumed")


def _request_payout(session: Session) -> None:
    """Withdraw the minimum, and send the same request again under the same key, as a
    client does after a timeout: the second answer must be the first payout."""
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    status, first = session.request("POST", "/api/v1/me/payouts/", "/api/v1/me/payouts/",
                                    {"amount": "1.00"}, headers=headers)
    if status not in (200, 201) or first is None:
        return
    session.note("payouts requested")
    status, again = session.request("POST", "/api/v1/me/payouts/", "/api/v1/me/payouts/",
                                    {"amount": "1.00"}, headers=headers)
    if status in (200, 201) and (again or {}).get("id") != first.get("id"):
        session.note("payout retries answered with a second payout")


def expert(session: Session, target: Target, rng: random.Random, deadline: float) -> None:
    """Pull, answer, and now and then read the history and earnings and withdraw."""
    _finish_open_leases(session, rng)
    rounds = 0
    while time.time() < deadline:
        rounds += 1
        status, leased = session.request("POST", "/api/v1/assignments/next/",
                                         "/api/v1/assignments/next/",
                                         {"project": target.project})
        if status == 201 and leased:
            submitted = _submit(session, rng, leased["id"])
            session.note("answers accepted" if submitted == 200 else f"submit {submitted}")
            if submitted == 0:
                _finish_open_leases(session, rng)
        elif status == 0:
            _finish_open_leases(session, rng)
        else:
            session.note(f"next {status}")
            time.sleep(0.5)
        if rounds % 20 == 0:
            session.request("GET", "/api/v1/assignments/",
                            "/api/v1/assignments/?status=submitted")
        if rounds % 20 == 10:
            status, earnings = session.request("GET", "/api/v1/me/earnings/",
                                               "/api/v1/me/earnings/")
            if status == 200 and Decimal(earnings["balance"]) >= 1:
                _request_payout(session)


def _small_batch(session: Session, target: Target, rng: random.Random, name: str) -> None:
    rows = [{"external_id": f"{name}-{n}",
             "data": {"prompt": f"Which answer is right? ({name} {n})",
                      "completions": [f"First answer {rng.random()}",
                                      f"Second answer {rng.random()}"]}}
            for n in range(20)]
    status, batch = session.request("POST", "/api/v1/projects/{id}/batches/",
                                    f"/api/v1/projects/{target.project}/batches/", rows)
    if status == 201 and batch:
        session.note("small batches stored")
        session.request("GET", "/api/v1/batches/{id}/", f"/api/v1/batches/{batch['id']}/")


def customer(session: Session, target: Target, rng: random.Random, deadline: float,
             index: int) -> None:
    """Read the project's state, money and data over and over; accept a few annotations from
    the review queue; now and then export the data and upload a small batch."""
    project = f"/api/v1/projects/{target.project}"
    organization = f"/api/v1/orgs/{target.organization}"
    rounds = 0
    while time.time() < deadline:
        rounds += 1
        session.request("GET", "/api/v1/projects/", "/api/v1/projects/")
        session.request("GET", "/api/v1/projects/{id}/", f"{project}/")
        session.request("GET", "/api/v1/projects/{id}/progress/", f"{project}/progress/")
        session.request("GET", "/api/v1/projects/{id}/items/",
                        f"{project}/items/?status=complete")
        status, queue = session.request("GET", "/api/v1/projects/{id}/review-queue/",
                                        f"{project}/review-queue/")
        for entry in (queue or {}).get("results", [])[:3] if status == 200 else []:
            status, _ = session.request(
                "POST", "/api/v1/annotations/{id}/review/",
                f"/api/v1/annotations/{entry['annotation']}/review/", {"verdict": "accept"})
            session.note("reviews accepted" if status == 200 else f"review {status}")
        session.request("GET", "/api/v1/orgs/{id}/balance/", f"{organization}/balance/")
        session.request("GET", "/api/v1/orgs/{id}/statement/", f"{organization}/statement/")
        if target.report:
            session.request("GET", "/api/v1/reports/{id}/", f"/api/v1/reports/{target.report}/")
        if rounds % 4 == 0:
            session.request("GET", "/api/v1/projects/{id}/export/",
                            f"{project}/export/?view=raw&format=jsonl", parse=False)
        if rounds % 3 == 0:
            _small_batch(session, target, rng, f"{target.label}-c{index}-r{rounds}")


def _process(users: list[tuple[int, str, str]], target: Target, seconds: float, barrier,
             results) -> None:
    tally, lock = Tally(), threading.Lock()
    started_cpu = resource.getrusage(resource.RUSAGE_SELF)
    barrier.wait()
    deadline = time.time() + seconds

    def user(number: int, role: str, token: str) -> None:
        session, rng = Session(target.port, token, tally, lock), random.Random(number)
        try:
            if role == "expert":
                expert(session, target, rng, deadline)
            else:
                customer(session, target, rng, deadline, number)
        except Exception as exc:
            session.note(f"client crashed: {exc!r}")
        finally:
            session.connection.close()

    threads = [threading.Thread(target=user, args=user_args) for user_args in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    used = resource.getrusage(resource.RUSAGE_SELF)
    tally.cpu_s = (used.ru_utime - started_cpu.ru_utime) + (used.ru_stime - started_cpu.ru_stime)
    results.put(tally)


def run(target: Target, users: list[tuple[str, str]], seconds: float, *, processes: int,
        during: Callable[[float], None] | None = None) -> tuple[Tally, float]:
    """Let ``users`` ((role, token) pairs) work for ``seconds``; the merged tally and the
    wall-clock seconds it took. ``during(started_at)`` runs in this process meanwhile."""
    numbered = [(n, role, token) for n, (role, token) in enumerate(users)]
    groups = [numbered[n::processes] for n in range(min(processes, len(numbered)))]
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(len(groups) + 1), context.Queue()
    workers = [context.Process(target=_process, args=(group, target, seconds, barrier, results))
               for group in groups]
    for worker in workers:
        worker.start()
    barrier.wait()
    started_at, started = time.time(), time.perf_counter()
    side = threading.Thread(target=during, args=(started_at,)) if during else None
    if side is not None:
        side.start()
    merged = Tally()
    for _ in workers:
        tally = results.get()
        merged.calls += tally.calls
        merged.notes += tally.notes
        merged.cpu_s += tally.cpu_s
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    if side is not None:
        side.join()
    return merged, elapsed
