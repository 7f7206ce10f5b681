"""Qualification tests taken in the browser, with the time limit shown.

The list shows every active test, the expert's own domains first, with their last attempt
and when they may try again. An attempt is one page: its items, one form for all answers
and a countdown to the server's deadline; after the submission the same address shows the
result. Items are loaded without their gold answers, so none can reach the page.
"""

import json
import math
from datetime import datetime, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Expertise
from config.workspace import FAILED, Audience, MenuEntry, page, perform, render

from ..models import QualificationAttempt, QualificationTest
from ..qualifications import retry_at, start_attempt, submit_attempt
from .answer_form import AttemptForm, entry_letter

Status = QualificationAttempt.Status


def next_try(test: QualificationTest, attempt: QualificationAttempt | None,
             now: datetime) -> datetime | None:
    """When the expert may start the test again, or None if now. An attempt whose time ran
    out unsubmitted counts as ended at its deadline, as the service will record it."""
    if attempt is not None and attempt.status == Status.IN_PROGRESS and attempt.expires_at <= now:
        retry = attempt.expires_at + timedelta(seconds=test.retry_after_s)
    else:
        retry = retry_at(test, attempt)
    return retry if retry is not None and retry > now else None


def qualification_rows(user) -> tuple[list[dict], list[dict]]:
    """The expert's tests (their domains' first, then the others), each with its last
    attempt, the expertise in its domain and when a new attempt may start."""
    expertise = {e.domain_id: e for e in Expertise.objects.filter(expert__user=user)}
    last: dict[int, QualificationAttempt] = {}
    for attempt in QualificationAttempt.objects.filter(expert=user).order_by("started_at"):
        last[attempt.test_id] = attempt
    now = timezone.now()
    mine, others = [], []
    for test in QualificationTest.objects.filter(active=True).select_related("domain__parent"):
        attempt = last.get(test.pk)
        running = (attempt is not None and attempt.status == Status.IN_PROGRESS
                   and attempt.expires_at > now)
        row = {"test": test, "attempt": attempt, "running": running,
               "expertise": expertise.get(test.domain_id),
               "expired": attempt is not None and not running and attempt.status in (
                   Status.EXPIRED, Status.IN_PROGRESS),
               "retry_at": next_try(test, attempt, now)}
        (mine if test.domain_id in expertise else others).append(row)
    return mine, others


@page(Audience.EXPERT)
def qualifications(request: HttpRequest) -> HttpResponse:
    mine, others = qualification_rows(request.user)
    return render(request, "quality/web/qualifications.html",
                  {"mine": mine, "others": others,
                   "can_work": request.user.expert_profile.can_work},
                  title="Qualification tests")


@page(Audience.EXPERT)
@require_POST
def start(request: HttpRequest, test_id: int) -> HttpResponse:
    test = get_object_or_404(QualificationTest, pk=test_id, active=True)
    attempt = perform(request, start_attempt, test_id=test.pk, user=request.user)
    if attempt is FAILED:
        return redirect("workspace:qualifications")
    return redirect("workspace:qualification-attempt", pk=attempt.pk)


def shown_fields(fields: list[dict], data: dict) -> list[dict]:
    """An item's fields in the test's order, each with its value and, for JSON, the value
    pretty-printed."""
    shown = []
    for field in fields:
        value = data.get(field["name"])
        if value in (None, "", []):
            continue
        pretty = json.dumps(value, indent=2, ensure_ascii=False) if field["type"] == "json" else ""
        entries = ([(entry_letter(n), entry) for n, entry in enumerate(value)]
                   if field["type"] == "text_list" else [])
        shown.append({**field, "value": value, "pretty": pretty, "entries": entries,
                      "label": field["name"].replace("_", " ").capitalize()})
    return shown


def attempt_form(attempt: QualificationAttempt, data=None) -> AttemptForm:
    items = list(attempt.items.defer("gold").order_by("pk"))
    return AttemptForm(data, questions=attempt.test.questions, items=items)


@page(Audience.EXPERT)
def attempt_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The attempt while it runs (items and countdown), its result once it is over."""
    attempt = get_object_or_404(
        QualificationAttempt.objects.filter(expert=request.user).select_related("test__domain"),
        pk=pk)
    running = attempt.status == Status.IN_PROGRESS and attempt.expires_at > timezone.now()
    if request.method == "POST" and not running:
        # Too late: the service records the expiry and says so.
        perform(request, submit_attempt, attempt_id=attempt.pk, user=request.user,
                answers={})
        return redirect("workspace:qualification-attempt", pk=attempt.pk)
    form = attempt_form(attempt, request.POST or None) if running else None
    if request.method == "POST" and form.is_valid():
        done = perform(request, submit_attempt, attempt_id=attempt.pk,
                       user=request.user, answers=form.answers(), form=form)
        attempt.refresh_from_db(fields=["status"])
        if done is not FAILED or attempt.status != Status.IN_PROGRESS:
            return redirect("workspace:qualification-attempt", pk=attempt.pk)
    expertise = None
    if attempt.status == Status.PASSED:
        expertise = Expertise.objects.filter(expert__user=request.user,
                                             domain=attempt.test.domain_id).first()
    retry = None if running else next_try(attempt.test, attempt, timezone.now())
    # Rounded up, so that the page's clock never ends before the server's.
    remaining = max(0, math.ceil((attempt.expires_at - timezone.now()).total_seconds()))
    items = [{"item": item, "fields": shown_fields(attempt.test.fields, item.data),
              "answers": form.item_fields(item)} for item in form.items] if form else []
    return render(request, "quality/web/attempt.html", {
        "attempt": attempt, "test": attempt.test, "form": form, "running": running,
        "items": items,
        "expertise": expertise, "retry_at": retry,
        "remaining": remaining,
        "remaining_text": f"{remaining // 60}:{remaining % 60:02d}",
    }, title=attempt.test.name)


urlpatterns = [
    path("qualifications/", qualifications, name="qualifications"),
    path("qualifications/<int:test_id>/start/", start, name="qualification-start"),
    path("qualifications/attempts/<int:pk>/", attempt_page, name="qualification-attempt"),
]
menu = [
    MenuEntry("Qualification tests", "workspace:qualifications", Audience.EXPERT,
              "Qualify in your domains to open their projects.", order=80),
]
