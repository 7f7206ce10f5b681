import hashlib
import hmac
import json
import random
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership
from tasks import jobs, services, webhooks
from tasks.models import Batch, Project, Webhook, WebhookDelivery
from tasks.routing import next_assignment
from tasks.signals import batch_ingested
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

EVENTS = ["batch.ingested", "item.completed", "project.completed"]


def verify(secret: str, headers, body: bytes, tolerance_s: int = 300) -> bool:
    """What a customer's receiver does with a delivery, as the README tells it."""
    timestamp = headers["X-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= tolerance_s
    return fresh and hmac.compare_digest(f"sha256={expected}", headers["X-Signature"])


class Receiver(ThreadingHTTPServer):
    """A customer's endpoint on the loopback interface that records what it is sent."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.requests: list[tuple[dict, bytes]] = []
        self.answer = (200, b"thanks")
        self.headers_out: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((dict(self.headers), body))
        code, content = self.server.answer
        self.send_response(code)
        for name, value in self.server.headers_out.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_TIMEOUT_S = 5
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def queued(monkeypatch):
    """First attempts that would go to the job queue once the transaction commits."""
    calls = []
    monkeypatch.setattr(webhooks, "async_task", lambda func, *args: calls.append((func, args)))
    return calls


def hook(project, url="https://example.com/hook", events=EVENTS, **options):
    return webhooks.create_webhook(user=project.created_by, project=project, url=url,
                                   events=list(events), **options)


def due_now(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))


def finish_items(project, count):
    expert = factories.expert()
    for _ in range(count):
        assignment = next_assignment(expert, project, rng=random.Random(0)).assignment
        services.submit(assignment_id=assignment.pk, user=expert, answer={"better": "A"})


# The API.

def test_owner_creates_a_webhook_and_sees_its_secret_once(customer):
    project = factories.project(customer, items=1)
    client = client_for(customer)
    url = f"/api/v1/projects/{project.pk}/webhooks/"
    response = client.post(url, {"url": "https://hooks.example.com/anno",
                                 "events": ["project.completed", "item.completed"]},
                           format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert len(created["secret"]) == 64
    assert created["events"] == ["item.completed", "project.completed"]
    assert created["project"] == project.pk and created["active"] is True
    assert Webhook.objects.get().secret == created["secret"]
    listed = client.get(url).json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    detail = client.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert "secret" not in detail and detail["url"] == "https://hooks.example.com/anno"


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://example.com/x", "events": ["item.completed"]}, "url"),
    ({"url": "javascript:alert(1)", "events": ["item.completed"]}, "url"),
    ({"url": "https://example.com/x", "events": ["item.deleted"]}, "events"),
    ({"url": "https://example.com/x", "events": []}, "events"),
])
def test_webhook_urls_are_http_and_events_a_subset(customer, body, field):
    project = factories.project(customer, items=1)
    response = client_for(customer).post(f"/api/v1/projects/{project.pk}/webhooks/", body,
                                         format="json")
    assert response.status_code == 400
    assert set(response.json()) == {field}
    assert not Webhook.objects.exists()


def test_service_refuses_what_the_serializer_would_miss(customer):
    project = factories.project(customer, items=1)
    with pytest.raises(ValidationError, match="http"):
        hook(project, url="ftp://example.com/x")
    with pytest.raises(ValidationError, match="at least one"):
        hook(project, events=[])


def test_owner_changes_and_deletes_a_webhook(customer):
    project = factories.project(customer, items=1)
    webhook = hook(project)
    client = client_for(customer)
    url = f"/api/v1/webhooks/{webhook.pk}/"
    response = client.patch(url, {"events": ["item.completed"], "active": False},
                            format="json")
    assert response.status_code == 200
    assert response.json()["events"] == ["item.completed"] and not response.json()["active"]
    assert client.patch(url, {"url": "file:///etc/passwd"},
                        format="json").status_code == 400
    assert client.put(url, {}, format="json").status_code == 405
    assert client.delete(url).status_code == 204
    assert not Webhook.objects.exists()


def test_members_read_owners_and_admins_manage_other_orgs_find_nothing(
        customer, other_customer, staff, expert, queued):
    project = factories.project(customer, items=1)
    webhook = hook(project)
    organization = factories.organization_of(customer)
    urls = {"list": f"/api/v1/projects/{project.pk}/webhooks/",
            "detail": f"/api/v1/webhooks/{webhook.pk}/",
            "deliveries": f"/api/v1/webhooks/{webhook.pk}/deliveries/",
            "test": f"/api/v1/webhooks/{webhook.pk}/test/"}
    body = {"url": "https://example.com/other", "events": ["item.completed"]}
    for role in (Membership.Role.MEMBER, Membership.Role.QA_LEAD):
        client = client_for(factories.member(organization, role=role))
        for name in ("list", "detail", "deliveries"):
            assert client.get(urls[name]).status_code == 200, (role, name)
        assert client.post(urls["list"], body, format="json").status_code == 403
        assert client.patch(urls["detail"], {"active": False},
                            format="json").status_code == 403
        assert client.delete(urls["detail"]).status_code == 403
        assert client.post(urls["test"]).status_code == 403
    admin = client_for(factories.member(organization, role=Membership.Role.ADMIN))
    assert admin.post(urls["list"], body, format="json").status_code == 201
    assert admin.post(urls["test"]).status_code == 202
    assert client_for(staff).get(urls["detail"]).status_code == 200
    for outsider in (other_customer, expert):
        client = client_for(outsider)
        for name in ("list", "detail", "deliveries"):
            assert client.get(urls[name]).status_code == 404, name
        assert client.post(urls["test"]).status_code == 404
        assert client.delete(urls["detail"]).status_code == 404
    assert Webhook.objects.filter(pk=webhook.pk, active=True).exists()


# Events become deliveries.

def test_completions_enqueue_deliveries_after_commit(customer, queued,
                                                     django_capture_on_commit_callbacks):
    project = factories.project(customer, items=2, overlap=1)
    everything = hook(project)
    items_only = hook(project, events=["item.completed"])
    hook(project, active=False)
    with django_capture_on_commit_callbacks(execute=True):
        finish_items(project, 2)
    deliveries = list(WebhookDelivery.objects.order_by("id"))
    assert [(d.webhook_id, d.event) for d in deliveries] == [
        (everything.pk, "item.completed"), (items_only.pk, "item.completed"),
        (everything.pk, "item.completed"), (items_only.pk, "item.completed"),
        (everything.pk, "project.completed"),
    ]
    assert queued == [("tasks.webhooks.deliver_webhook", (d.pk,)) for d in deliveries]
    item = deliveries[0].payload
    assert set(item) == {"event", "project", "item", "external_id", "annotations",
                         "created_at"}
    assert item["event"] == "item.completed" and item["project"] == project.pk
    assert item["external_id"] == "item-0" and item["annotations"] == 1
    done = deliveries[-1].payload
    assert done["progress"]["items"] == 2 and done["progress"]["complete"] == 2
    assert done["progress"]["annotations"] == 2
    assert all(d.status == "pending" and d.attempts == 0 for d in deliveries)


def test_a_batch_announces_its_counts(customer, queued):
    project = factories.project(customer, items=1)
    hook(project, events=["batch.ingested"])
    batch = Batch.objects.create(project=project, file_format="jsonl", status="done", rows=5,
                                 created=4, existing=1)
    batch_ingested.send(sender=Project, batch=batch)
    payload = WebhookDelivery.objects.get(event="batch.ingested").payload
    assert {k: payload[k] for k in ("project", "batch", "rows", "created", "existing")} == {
        "project": project.pk, "batch": batch.pk, "rows": 5, "created": 4, "existing": 1}


def test_a_rolled_back_change_announces_nothing(customer, queued,
                                                django_capture_on_commit_callbacks):
    project = factories.project(customer, items=1, overlap=1)
    hook(project)
    with django_capture_on_commit_callbacks(execute=True), \
            pytest.raises(RuntimeError), transaction.atomic():
        finish_items(project, 1)
        raise RuntimeError
    assert not WebhookDelivery.objects.exists()
    assert queued == []


# Delivery over real HTTP.

def test_a_delivery_is_signed_and_recorded_and_not_sent_twice(customer, receiver):
    project = factories.project(customer, items=1)
    webhook = hook(project, url=receiver.url)
    [delivery] = webhooks.enqueue(project.pk, "item.completed",
                                  {"event": "item.completed", "project": project.pk})
    assert webhooks.deliver_webhook(delivery.pk) == "succeeded"
    [(headers, body)] = receiver.requests
    assert verify(webhook.secret, headers, body)
    assert not verify("a wrong secret", headers, body)
    assert not verify(webhook.secret, headers, body + b" ")
    assert json.loads(body) == {"event": "item.completed", "project": project.pk}
    assert headers["X-Event"] == "item.completed"
    assert headers["X-Delivery"] == str(delivery.pk)
    assert headers["Content-Type"] == "application/json"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status,
            delivery.response_body, delivery.error) == ("succeeded", 1, 200, "thanks", "")
    assert delivery.delivered_at is not None
    assert webhooks.deliver_webhook(delivery.pk) is None
    assert len(receiver.requests) == 1


def test_a_replayed_request_fails_verification_once_stale(customer, receiver):
    project = factories.project(customer, items=1)
    webhook = hook(project, url=receiver.url)
    [delivery] = webhooks.enqueue(project.pk, "item.completed", {"event": "item.completed"})
    webhooks.deliver_webhook(delivery.pk)
    [(headers, body)] = receiver.requests
    later = {**headers, "X-Timestamp": str(int(headers["X-Timestamp"]) + 3600)}
    assert not verify(webhook.secret, later, body), "the timestamp is part of the signature"
    assert not verify(webhook.secret, headers, body, tolerance_s=-1)


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up(customer, receiver):
    project = factories.project(customer, items=1)
    hook(project, url=receiver.url)
    receiver.answer = (500, b"x" * 5000)
    [delivery] = webhooks.enqueue(project.pk, "item.completed", {"event": "item.completed"})
    waits = []
    for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
        before = timezone.now()
        status = webhooks.deliver_webhook(delivery.pk)
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.response_status == 500
        assert delivery.response_body == "x" * 2048
        assert "500" in delivery.error
        assert webhooks.deliver_webhook(delivery.pk) is None, "not due before the backoff"
        if attempt < webhooks.MAX_ATTEMPTS:
            assert status == "pending"
            waits.append(round((delivery.next_attempt_at - before).total_seconds() / 60))
            due_now(delivery)
    assert status == "failed" and delivery.status == "failed"
    assert waits == [1, 5, 30, 120, 720]
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    assert delivery.delivered_at is None


def test_a_retry_that_succeeds_clears_the_error(customer, receiver):
    project = factories.project(customer, items=1)
    hook(project, url=receiver.url)
    receiver.answer = (503, b"busy")
    [delivery] = webhooks.enqueue(project.pk, "item.completed", {"event": "item.completed"})
    webhooks.deliver_webhook(delivery.pk)
    receiver.answer = (204, b"")
    due_now(delivery)
    assert webhooks.deliver_webhook(delivery.pk) == "succeeded"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_status, delivery.error) == (2, 204, "")
    first, second = receiver.requests
    assert first[0]["X-Delivery"] == second[0]["X-Delivery"], "retries keep the delivery id"


def test_unreachable_endpoints_and_redirects_are_failures(customer, receiver):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    project = factories.project(customer, items=1)
    hook(project, url=f"http://127.0.0.1:{closed_port}/hook")
    [delivery] = webhooks.enqueue(project.pk, "item.completed", {"event": "item.completed"})
    assert webhooks.deliver_webhook(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.response_status is None and delivery.error
    Webhook.objects.update(url=receiver.url)
    receiver.answer = (302, b"")
    receiver.headers_out = {"Location": "http://169.254.169.254/latest/meta-data/"}
    due_now(delivery)
    assert webhooks.deliver_webhook(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.response_status == 302
    assert len(receiver.requests) == 1


def test_private_addresses_are_refused_unless_allowed(customer, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    project = factories.project(customer, items=1)
    hook(project, url=receiver.url)
    [delivery] = webhooks.enqueue(project.pk, "item.completed", {"event": "item.completed"})
    assert webhooks.deliver_webhook(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert "127.0.0.1" in delivery.error and "not a public address" in delivery.error
    assert receiver.requests == []


def test_deliveries_of_a_deactivated_webhook_are_dropped(customer, receiver):
    project = factories.project(customer, items=1)
    webhook = hook(project, url=receiver.url)
    [delivery] = webhooks.enqueue(project.pk, "item.completed", {"event": "item.completed"})
    webhooks.update_webhook(user=customer, webhook=webhook, active=False)
    assert webhooks.deliver_webhook(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.error == "The webhook was deactivated."
    assert receiver.requests == []


def test_the_scheduled_job_delivers_what_is_due(customer, receiver):
    project = factories.project(customer, items=1)
    hook(project, url=receiver.url)
    *_, later = (webhooks.enqueue(project.pk, "item.completed", {"n": n})[0]
                 for n in range(3))
    WebhookDelivery.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert webhooks.deliver_due_webhooks() == 2
    assert [json.loads(body)["n"] for _, body in receiver.requests] == [0, 1]
    assert webhooks.deliver_due_webhooks() == 0
    assert ("tasks.webhooks.deliver_due_webhooks", 1) in jobs.SCHEDULES


def test_a_delivery_whose_worker_died_mid_request_is_sent_again_by_the_schedule(
        customer, receiver):
    project = factories.project(customer, items=1)
    hook(project, url=receiver.url)
    [delivery] = webhooks.enqueue(project.pk, "item.completed", {"n": 1})
    claimed = webhooks._claim(delivery.pk)  # a worker took it, then died before answering
    assert claimed.attempts == 1 and receiver.requests == []
    assert webhooks.deliver_due_webhooks() == 0, "booked for its next attempt, not yet due"
    due_now(delivery)
    assert webhooks.deliver_due_webhooks() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert len(receiver.requests) == 1


def test_ping_through_the_api_and_the_delivery_log(customer, receiver, queued,
                                                   django_capture_on_commit_callbacks):
    project = factories.project(customer, items=1)
    webhook = hook(project, url=receiver.url, active=False)
    client = client_for(customer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/webhooks/{webhook.pk}/test/")
    assert response.status_code == 202
    ping = response.json()
    assert ping["event"] == "ping" and ping["status"] == "pending"
    assert queued == [("tasks.webhooks.deliver_webhook", (ping["id"],))]
    assert webhooks.deliver_webhook(ping["id"]) == "succeeded"
    [(headers, body)] = receiver.requests
    assert headers["X-Event"] == "ping" and verify(webhook.secret, headers, body)
    assert json.loads(body)["webhook"] == webhook.pk
    log = client.get(f"/api/v1/webhooks/{webhook.pk}/deliveries/").json()
    assert log["count"] == 1
    entry = log["results"][0]
    assert set(entry) == {"id", "webhook", "event", "payload", "status", "attempts",
                          "next_attempt_at", "response_status", "response_body", "error",
                          "created_at", "delivered_at"}
    assert (entry["status"], entry["attempts"], entry["response_status"],
            entry["response_body"]) == ("succeeded", 1, 200, "thanks")
    filtered = client.get(f"/api/v1/webhooks/{webhook.pk}/deliveries/?status=failed").json()
    assert filtered["count"] == 0


@pytest.mark.postgres
def test_a_delivery_held_by_another_worker_is_skipped_not_waited_on(customer, receiver):
    project = factories.project(customer, items=1)
    hook(project, url=receiver.url)
    [delivery] = webhooks.enqueue(project.pk, "item.completed", {"event": "item.completed"})
    results = []

    def other_worker():
        try:
            results.append(webhooks.deliver_webhook(delivery.pk))
        finally:
            connection.close()

    with transaction.atomic():
        WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        worker = threading.Thread(target=other_worker)
        worker.start()
        worker.join(timeout=10)
    assert results == [None]
    assert receiver.requests == []
    assert webhooks.deliver_webhook(delivery.pk) == "succeeded"
