"""An hourly contract over HTTP: a customer creates and funds an hourly project, an expert's
heartbeats log active time up to the weekly cap, review accepts one answer and rejects
another (rejected time is paid too), the weekly payment pays the week, and both sides read
hours and rates back while the books balance.

Three steps have no HTTP endpoint and use what an operator's console, a worker or the clock
would: qualifying the expert in a domain, running the weekly payment for a moment a week
later, and time passing between heartbeats (the expert's leases are moved back in the
database instead of sleeping).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone

from marketplace import hourly, ledger
from tasks.activity import week_start
from tasks.models import Assignment
from tests.conftest import client_for
from tests.e2e.clients import cardiologist_at_work, signed_in

pytestmark = pytest.mark.django_db


def later(expert_id: int, seconds: int) -> None:
    """Let `seconds` pass for the expert: each of their leases began, and was last active,
    that much earlier."""
    back = timedelta(seconds=seconds)
    Assignment.objects.filter(expert_id=expert_id).update(
        leased_at=F("leased_at") - back, last_active_at=F("last_active_at") - back)


def test_an_hourly_project_tracks_caps_and_pays_time_weekly(staff):
    operator = client_for(staff)
    customer, _ = signed_in("customer", username="acme_hours", organization="Acme Hours")
    organization = customer.get("/api/v1/me/").json()["memberships"][0]["organization"]
    # 36.00/h is a cent a second; a cap of 0.10 h is six minutes a week.
    response = customer.post("/api/v1/projects/", {
        "organization": organization, "name": "Hourly cardiology pairs",
        "preset": "preference", "domain": "medicine-cardiology",
        "instructions": "Pick the safer answer.", "review_rate": "1.0", "currency": "USD",
        "contract": "hourly", "hourly_rate": "36.00", "weekly_cap_hours": "0.10",
    }, format="json")
    assert response.status_code == 201, response.json()
    project = response.json()
    assert (project["contract"], project["hourly_rate"], project["price_per_item"]) == (
        "hourly", "36.00", "0.00")
    rows = [{"external_id": f"h-{n}", "data": {"prompt": f"Q{n}?",
                                               "completions": [f"A{n}", f"B{n}"]}}
            for n in range(5)]
    assert customer.post(f"/api/v1/projects/{project['id']}/batches/", rows,
                         format="json").status_code == 201
    assert customer.post(f"/api/v1/projects/{project['id']}/activate/").status_code == 200
    deposit = {"amount": "20.00", "currency": "USD", "reference": "WIRE-HOURS-1"}
    assert operator.post(f"/api/v1/orgs/{organization}/deposits/", deposit,
                         format="json").status_code == 201

    expert, profile = cardiologist_at_work(operator, "dr_hours", "Dr. Hours")
    balance_url = f"/api/v1/orgs/{organization}/balance/"

    def work(beats: list[int]) -> tuple[int, int]:
        """Lease the next item, heartbeat after each of `beats` seconds, answer it; the
        assignment's id and its item's."""
        leased = expert.post("/api/v1/assignments/next/")
        assert leased.status_code == 201, leased.content
        assignment = leased.json()
        assert (assignment["contract"], assignment["active_s"]) == ("hourly", 0)
        for seconds in beats:
            later(profile["id"], seconds)
            beat = expert.post(f"/api/v1/assignments/{assignment['id']}/heartbeat/")
            assert beat.status_code == 200, beat.content
        response = expert.post(f"/api/v1/assignments/{assignment['id']}/submit/",
                               {"answer": {"better": "A"}}, format="json")
        assert response.status_code == 200, response.json()
        return assignment["id"], assignment["item"]["id"]

    first, first_item = work([100, 80])
    # The lease held six minutes at 36.00/h; its answer gave back what was not logged.
    assert expert.get(f"/api/v1/assignments/{first}/").json()["active_s"] == 180
    balance = customer.get(balance_url).json()
    assert (balance["available"], balance["reserved"], balance["payable"]) == (
        "18.20", "1.80", "0.00")
    _, second_item = work([90])

    queue = customer.get(f"/api/v1/projects/{project['id']}/review-queue/").json()["results"]
    by_item = {entry["item"]["id"]: entry["annotation"] for entry in queue}
    assert customer.post(f"/api/v1/annotations/{by_item[first_item]}/review/",
                         {"verdict": "accept"}, format="json").status_code == 200
    assert customer.post(f"/api/v1/annotations/{by_item[second_item]}/review/",
                         {"verdict": "reject", "comment": "B is the safer answer."},
                         format="json").status_code == 200
    balance = customer.get(balance_url).json()
    assert (balance["available"], balance["reserved"], balance["payable"],
            balance["spent"]) == ("17.30", "0.00", "2.70", "0.00")

    # 270 of the week's 360 seconds are logged: the third lease holds the 90 left, and a
    # heartbeat 110 seconds later counts only those.
    leased = expert.post("/api/v1/assignments/next/")
    assert leased.status_code == 201
    third = leased.json()["id"]
    assert customer.get(balance_url).json()["reserved"] == "0.90"
    later(profile["id"], 110)
    beat = expert.post(f"/api/v1/assignments/{third}/heartbeat/").json()
    assert (beat["counted_s"], beat["active_s"], beat["cap_left_s"], beat["cap_reached"]) == (
        90, 90, 0, True)
    assert expert.post(f"/api/v1/assignments/{third}/skip/", {"reason": "Out of hours."},
                       format="json").status_code == 200
    capped = expert.post("/api/v1/assignments/next/")
    assert capped.status_code == 204
    assert ("You have logged 0.1 of this week's 0.1 hours on Hourly cardiology pairs"
            in capped["X-Next-Reason"])

    earnings = expert.get("/api/v1/me/earnings/").json()
    assert [(row["hours"], row["amount"]) for row in earnings["pending"]] == [
        ("0.05", "1.80"), ("0.03", "0.90"), ("0.03", "0.90")]
    assert earnings["balance"] == "0.00"

    # The weekly payment, run as its schedule would a week later, pays the week once.
    a_week_later = timezone.now() + timedelta(days=7)
    assert hourly.pay_weekly(a_week_later) == 1
    assert hourly.pay_weekly(a_week_later) == 0
    earnings = expert.get("/api/v1/me/earnings/").json()
    assert (earnings["balance"], earnings["hours"], earnings["effective_hourly_rate"]) == (
        "2.88", "0.10", "28.80")
    [row] = earnings["per_project"]
    assert (row["contract"], row["approved_tasks"], row["hours"], row["earned"],
            row["effective_hourly_rate"]) == ("hourly", 1, "0.10", "2.88", "28.80")
    [payment] = earnings["weekly_payments"]
    week = week_start(Assignment.objects.get(pk=first).leased_at).date().isoformat()
    assert (payment["week"], payment["hours"], payment["rate"], payment["amount"],
            payment["fee"], payment["net"]) == (week, "0.10", "36.00", "3.60", "0.72", "2.88")
    assert earnings["pending"] == [] and earnings["withheld"] == []
    assert earnings["entries"][0]["memo"] == f"Week of {week}: 0.10 h at 36.00/h"

    balance = customer.get(balance_url).json()
    assert (balance["available"], balance["reserved"], balance["payable"],
            balance["spent"]) == ("16.40", "0.00", "0.00", "3.60")
    assert sum(Decimal(balance[key]) for key in ["available", "reserved", "payable",
                                                 "spent"]) == Decimal(balance["deposits"])
    [spend] = balance["by_project"]
    assert (spend["approved_tasks"], spend["hours"], spend["spent"], spend["fees"]) == (
        1, "0.10", "3.60", "0.72")
    lines = customer.get(f"/api/v1/orgs/{organization}/statement/").json()["results"]
    assert (lines[0]["kind"], lines[0]["hours"], lines[0]["payable"], lines[0]["to_expert"],
            lines[0]["fee"]) == ("hourly_payment", "0.10", "-3.60", "2.88", "0.72")
    accrued = [line for line in lines if line["kind"] == "time_accrued"]
    assert [line["hours"] for line in accrued] == ["0.03", "0.03", "0.05"]
    assert all(line["memo"].startswith(f"{line['hours']} h at 36.00/h") for line in accrued)
    assert ledger.reconcile()["ok"]
