"""Webhooks: a project's events posted to the customer's URL, signed, retried until delivered.

An event becomes one ``WebhookDelivery`` per subscribed webhook inside the transaction that
caused it, so a rolled-back change announces nothing; the first attempt is queued once that
transaction commits, and ``deliver_due_webhooks`` (scheduled every minute) retries the rest:
after 1 minute, 5 minutes, 30 minutes, 2 hours and 12 hours, then the delivery is failed.
Delivery is at least once; the ``X-Delivery`` id stays the same across retries.

Every request carries::

    X-Event: item.completed
    X-Delivery: 1234
    X-Timestamp: 1767225600
    X-Signature: sha256=<hex HMAC-SHA256 of "<X-Timestamp>.<raw body>" keyed by the secret>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes with the
webhook's secret, compares it in constant time, rejects timestamps older than a few minutes
(a replayed request cannot be re-signed with a fresh one) and ignores an ``X-Delivery`` id it
has already processed.
"""

import hmac
import ipaddress
import json
import secrets
import socket
import time
from datetime import timedelta
from functools import partial
from hashlib import sha256
from http.client import HTTPException
from typing import Any
from urllib import request as urllib_request
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from accounts.access import Action, require
from config.rawsql import instances

from .models import Batch, Item, Project, Webhook, WebhookDelivery
from .services import progress

BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
           timedelta(hours=2), timedelta(hours=12))
MAX_ATTEMPTS = len(BACKOFF) + 1
RESPONSE_BODY_LIMIT = 2048
# One run of the scheduled job stops taking new deliveries after this long.
DUE_BUDGET_S = 60
PING = "ping"
USER_AGENT = "annomarket-webhooks/1"

_validate_url = URLValidator(schemes=["http", "https"],
                             message="Enter an http:// or https:// URL.")


def _clean(url: str, events: list[str]) -> tuple[str, list[str]]:
    errors = {}
    try:
        _validate_url(url)
    except ValidationError as exc:
        errors["url"] = exc.messages
    unknown = sorted(set(events) - set(Webhook.Event.values))
    if unknown:
        errors["events"] = [f"Unknown event(s) {', '.join(unknown)}; choose from "
                            f"{', '.join(Webhook.Event.values)}."]
    elif not events:
        errors["events"] = ["Subscribe to at least one event."]
    if errors:
        raise ValidationError(errors)
    return url, [event for event in Webhook.Event.values if event in events]


@transaction.atomic
def create_webhook(*, user, project: Project, url: str, events: list[str],
                   active: bool = True) -> Webhook:
    """Owners and admins subscribe a URL; the generated secret is shown to them only now."""
    require(user, Action.MANAGE, project.organization_id)
    url, events = _clean(url, events)
    return Webhook.objects.create(project=project, url=url, events=events, active=active,
                                  secret=secrets.token_hex(32))


@transaction.atomic
def update_webhook(*, user, webhook: Webhook, **changes: Any) -> Webhook:
    webhook = Webhook.objects.select_for_update().select_related("project__organization").get(
        pk=webhook.pk)
    require(user, Action.MANAGE, webhook.project.organization_id)
    if {"url", "events"} & set(changes):
        changes["url"], changes["events"] = _clean(changes.get("url", webhook.url),
                                                   changes.get("events", webhook.events))
    for name, value in changes.items():
        setattr(webhook, name, value)
    webhook.save(update_fields=list(changes))
    return webhook


@transaction.atomic
def delete_webhook(*, user, webhook: Webhook) -> None:
    require(user, Action.MANAGE, webhook.project.organization_id)
    webhook.delete()


def _payload(event: str, project_id: int, **data: Any) -> dict[str, Any]:
    return {"event": event, "project": project_id, **data,
            "created_at": timezone.now().isoformat()}


def _queue(deliveries: list[WebhookDelivery]) -> None:
    """First attempts run once the event's transaction commits; if queueing fails, the
    scheduled job picks the delivery up instead."""
    for delivery in deliveries:
        transaction.on_commit(partial(async_task, "tasks.webhooks.deliver_webhook",
                                      delivery.pk), robust=True)


# Every completed item asks; most projects have no webhook, so the question stays plain SQL.
ACTIVE_WEBHOOKS_SQL = ("SELECT id, project_id, events FROM tasks_webhook "
                       "WHERE project_id = %s AND active ORDER BY id")


def enqueue(project_id: int, event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """Record a delivery of the event for each active webhook of the project that wants it."""
    now = timezone.now()
    deliveries = [
        WebhookDelivery.objects.create(webhook=webhook, event=event, payload=payload,
                                       next_attempt_at=now)
        for webhook in instances(Webhook, ACTIVE_WEBHOOKS_SQL, [project_id])
        if event in webhook.events
    ]
    _queue(deliveries)
    return deliveries


@transaction.atomic
def send_ping(*, user, webhook: Webhook) -> WebhookDelivery:
    """A test event, sent even to an inactive webhook so that it can be checked first."""
    require(user, Action.MANAGE, webhook.project.organization_id)
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event=PING, next_attempt_at=timezone.now(),
        payload=_payload(PING, webhook.project_id, webhook=webhook.pk))
    _queue([delivery])
    return delivery


def batch_ingested(batch: Batch) -> list[WebhookDelivery]:
    return enqueue(batch.project_id, Webhook.Event.BATCH_INGESTED, _payload(
        Webhook.Event.BATCH_INGESTED, batch.project_id, batch=batch.pk, rows=batch.rows,
        created=batch.created, existing=batch.existing))


def item_completed(item: Item) -> list[WebhookDelivery]:
    return enqueue(item.project_id, Webhook.Event.ITEM_COMPLETED, _payload(
        Webhook.Event.ITEM_COMPLETED, item.project_id, item=item.pk,
        external_id=item.external_id, annotations=item.annotated))


def project_completed(project: Project) -> list[WebhookDelivery]:
    return enqueue(project.pk, Webhook.Event.PROJECT_COMPLETED, _payload(
        Webhook.Event.PROJECT_COMPLETED, project.pk, progress=progress(project)))


def appeal_filed(appeal: dict[str, Any]) -> list[WebhookDelivery]:
    """An expert appealed a rejection or a quality action. The quality app, which keeps
    appeals, words ``appeal`` (its ``project`` included); this app only delivers it."""
    return enqueue(appeal["project"], Webhook.Event.APPEAL_FILED, _payload(
        Webhook.Event.APPEAL_FILED, appeal["project"], appeal=appeal))


def appeal_decided(appeal: dict[str, Any]) -> list[WebhookDelivery]:
    """An appeal was upheld or denied, by a QA lead or by its deadline."""
    return enqueue(appeal["project"], Webhook.Event.APPEAL_DECIDED, _payload(
        Webhook.Event.APPEAL_DECIDED, appeal["project"], appeal=appeal))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Signature`` value: the timestamp is signed with the body against replays."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, sha256).hexdigest()
    return f"sha256={digest}"


class _NoRedirects(urllib_request.HTTPRedirectHandler):
    """A redirect is answered as a failure: following it would post the event elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib_request.build_opener(_NoRedirects)


class RefusedAddress(Exception):
    pass


def _check_address(url: str) -> None:
    """Refuse hosts that resolve to loopback, private or link-local addresses, so that a
    webhook cannot make this server call into its own network."""
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return
    parts = urlsplit(url)
    for *_, address in socket.getaddrinfo(parts.hostname, parts.port,
                                          type=socket.SOCK_STREAM):
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global or ip.is_multicast:
            raise RefusedAddress(f"{parts.hostname} resolves to {ip}, which is not a public "
                                 f"address.")


def _read(response) -> str:
    # PostgreSQL text cannot hold NUL characters.
    return response.read(RESPONSE_BODY_LIMIT).decode("utf-8", "replace").replace("\x00", "")


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """Send one attempt; answer (response status, first 2 KB of the body, error)."""
    webhook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib_request.Request(webhook.url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Event": delivery.event,
        "X-Delivery": str(delivery.pk),
        "X-Timestamp": timestamp,
        "X-Signature": sign(webhook.secret, timestamp, body),
    })
    try:
        _check_address(webhook.url)
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_S) as response:
            return response.status, _read(response), ""
    except HTTPError as exc:
        with exc:
            return exc.code, _read(exc), f"The endpoint answered HTTP {exc.code}."
    except (URLError, OSError, HTTPException, RefusedAddress) as exc:
        reason = getattr(exc, "reason", exc)
        return None, "", str(reason) or type(reason).__name__


def _claim(delivery_id: int) -> WebhookDelivery | None:
    """Take a due delivery for one attempt. Its next attempt is booked before the request is
    sent, so that a worker that dies mid-request leaves it to be retried, and no database
    transaction stays open while a slow endpoint answers."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("webhook")
                    .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING,
                            next_attempt_at__lte=now)
                    .first())
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def deliver_webhook(delivery_id: int) -> str | None:
    """Make one attempt at a due delivery; answer its status afterwards, or None when there
    was nothing to do (delivered, failed, not due, or another worker holds it)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    if delivery.webhook.active or delivery.event == PING:
        response_status, body, error = _post(delivery)
    else:
        response_status, body, error = None, "", "The webhook was deactivated."
    succeeded = response_status is not None and 200 <= response_status < 300
    if succeeded:
        status = WebhookDelivery.Status.SUCCEEDED
    elif delivery.attempts >= MAX_ATTEMPTS or not delivery.webhook.active:
        status = WebhookDelivery.Status.FAILED
    else:
        status = WebhookDelivery.Status.PENDING
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(
        status=status, response_status=response_status, response_body=body, error=error,
        delivered_at=timezone.now() if succeeded else None)
    return status


def deliver_due_webhooks() -> int:
    """Attempt every delivery whose time has come, oldest first; answer how many."""
    deadline = time.monotonic() + DUE_BUDGET_S
    attempted = 0
    while time.monotonic() < deadline:
        due = list(WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:100])
        claimed = 0
        for delivery_id in due:
            if time.monotonic() >= deadline:
                break
            claimed += deliver_webhook(delivery_id) is not None
        if not claimed:
            # Nothing due, or all of it held by other workers.
            break
        attempted += claimed
    return attempted
