"""The money endpoints for each role: anonymous 401, the organization's members, another
organization (404), operators; and money as string decimals everywhere."""

import csv
import io
import json
from decimal import Decimal

import pytest

from accounts.models import Membership
from marketplace import hourly, services
from tasks import services as task_services
from tasks.activity import week_start
from tasks.models import Assignment
from tests import factories
from tests.conftest import client_for
from tests.marketplace.conftest import (
    assert_books_balance,
    deposit,
    hourly_project,
    hourly_worked,
    lease,
    next_week,
    paid_project,
    submit,
    timed,
)

pytestmark = pytest.mark.django_db


def floats_in(value) -> list:
    """Every float anywhere in a decoded JSON document."""
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for item in value.values() for f in floats_in(item)]
    if isinstance(value, list):
        return [f for item in value for f in floats_in(item)]
    return []


def worked(customer, organization):
    """A funded project with one approved, one rejected and one leased task."""
    deposit(organization, "20.00")
    project = paid_project(customer)
    expert = factories.expert()
    task_services.approve_assignment(submit(lease(expert, project, 0).assignment))
    task_services.reject_assignment(submit(lease(expert, project, 1).assignment))
    lease(expert, project, 2)
    return project, expert


class TestDeposits:
    def url(self, organization):
        return f"/api/v1/orgs/{organization.pk}/deposits/"

    def test_operators_record_deposits_idempotently_by_reference(self, organization, staff):
        client = client_for(staff)
        body = {"amount": "250.00", "currency": "USD", "reference": "WIRE-2026-001"}
        first = client.post(self.url(organization), body, format="json")
        assert first.status_code == 201, first.json()
        assert (first.json()["amount"], first.json()["kind"]) == ("250.00", "deposit")
        again = client.post(self.url(organization), body, format="json")
        assert (again.status_code, again.json()) == (201, first.json())
        changed = client.post(self.url(organization), {**body, "amount": "25.00"},
                              format="json")
        assert (changed.status_code, changed.json()["code"]) == (409, "reference_reused")
        balance = client.get(f"/api/v1/orgs/{organization.pk}/balance/").json()
        assert balance["available"] == "250.00"

    def test_members_read_but_do_not_record_deposits(self, organization, customer, staff):
        deposit(organization, "5.00", staff=staff)
        client = client_for(customer)
        response = client.post(self.url(organization), {"amount": "1.00", "currency": "USD",
                                                        "reference": "x"}, format="json")
        assert response.status_code == 403
        assert client.get(self.url(organization)).json()["count"] == 1

    def test_other_organizations_and_anonymous_callers(self, organization, other_customer,
                                                       api):
        client = client_for(other_customer)
        body = {"amount": "1.00", "currency": "USD", "reference": "x"}
        for path in ["deposits/", "balance/", "statement/"]:
            url = f"/api/v1/orgs/{organization.pk}/{path}"
            assert client.get(url).status_code == 404
            assert api.get(url).status_code == 401
        assert client.post(self.url(organization), body, format="json").status_code == 404
        assert api.post(self.url(organization), body, format="json").status_code == 401

    def test_refunds_are_staff_only_and_bounded(self, organization, staff, customer):
        deposit(organization, "10.00", staff=staff)
        url = f"/api/v1/orgs/{organization.pk}/refunds/"
        body = {"amount": "10.01", "currency": "USD", "reference": "REFUND-1"}
        assert client_for(customer).post(url, body, format="json").status_code == 403
        response = client_for(staff).post(url, body, format="json")
        assert response.status_code == 400 and "amount" in response.json()
        response = client_for(staff).post(url, {**body, "amount": "3.00"}, format="json")
        assert (response.status_code, response.json()["kind"]) == (201, "refund")


class TestBalanceAndStatement:
    def test_balance_splits_available_reserved_and_spent(self, customer, organization):
        project, _ = worked(customer, organization)
        data = client_for(customer).get(f"/api/v1/orgs/{organization.pk}/balance/").json()
        assert {key: data[key] for key in ["available", "reserved", "spent", "currency",
                                           "deposits", "fees"]} == {
            "available": "12.00", "reserved": "4.00", "spent": "4.00", "currency": "USD",
            "deposits": "20.00", "fees": "0.80"}
        assert data["by_project"] == [{"project": project.pk, "name": project.name,
                                       "contract": "per_task", "spent": "4.00", "fees": "0.80",
                                       "reserved": "4.00", "payable": "0.00",
                                       "approved_tasks": 1, "hours": None}]
        assert floats_in(data) == []

    def test_statement_lines_and_csv(self, customer, organization, staff):
        worked(customer, organization)
        url = f"/api/v1/orgs/{organization.pk}/statement/"
        data = client_for(staff).get(url).json()
        kinds = [line["kind"] for line in data["results"]]
        assert kinds == ["reservation", "release", "reservation", "approval", "reservation",
                         "deposit"]
        approval = data["results"][3]
        assert {key: approval[key] for key in ["available", "reserved", "to_expert", "fee",
                                               "currency"]} == {
            "available": "0.00", "reserved": "-4.00", "to_expert": "3.20", "fee": "0.80",
            "currency": "USD"}
        assert floats_in(data) == []
        response = client_for(customer).get(url + "?format=csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert [row["kind"] for row in rows] == kinds
        assert rows[3]["fee"] == "0.80"

    def test_hourly_time_is_payable_then_spent_with_its_hours(self, customer, organization,
                                                              staff):
        project, _ = hourly_worked(customer, organization)
        client = client_for(customer)
        url = f"/api/v1/orgs/{organization.pk}/balance/"

        def figures():
            data = client.get(url).json()
            [row] = data["by_project"]
            parts = [Decimal(data[key]) for key in ["available", "reserved", "payable",
                                                    "spent"]]
            assert sum(parts) == Decimal(data["deposits"]) - Decimal(data["refunds"])
            return ({key: data[key] for key in ["available", "reserved", "payable", "spent"]},
                    {key: row[key] for key in ["contract", "approved_tasks", "hours", "payable",
                                               "spent"]})

        held = str(hourly.cost(project.hourly_rate, project.assignment_ttl_s))
        lease(factories.expert(), project)
        assert figures() == (
            {"available": str(Decimal("73.00") - Decimal(held)), "reserved": held,
             "payable": "27.00", "spent": "0.00"},
            {"contract": "hourly", "approved_tasks": 1, "hours": "0.75", "payable": "27.00",
             "spent": "0.00"})
        rejected = Assignment.objects.get(project=project, status="rejected")
        hourly.withhold_time(assignment=rejected, reason="Idle tabs.", by=staff)
        hourly.pay_weekly(next_week())
        assert figures() == (
            {"available": str(Decimal("82.00") - Decimal(held)), "reserved": held,
             "payable": "0.00", "spent": "18.00"},
            {"contract": "hourly", "approved_tasks": 1, "hours": "0.50", "payable": "0.00",
             "spent": "18.00"})
        assert_books_balance()

        lines = client.get(f"/api/v1/orgs/{organization.pk}/statement/").json()["results"]
        hourly_lines = [(line["kind"], line["hours"], line["payable"], line["available"])
                        for line in lines if line["hours"] is not None]
        assert hourly_lines == [("hourly_payment", "0.50", "-18.00", "0.00"),
                                ("time_withheld", "0.25", "-9.00", "9.00"),
                                ("time_accrued", "0.25", "9.00", "0.00"),
                                ("time_accrued", "0.50", "18.00", "0.00")]
        assert {line["hours"] for line in lines if line["kind"] in (
            "reservation", "release", "deposit")} == {None}
        payment = lines[[line["kind"] for line in lines].index("hourly_payment")]
        assert payment["memo"].endswith(": 0.50 h at 36.00/h")
        assert (payment["to_expert"], payment["fee"]) == ("14.40", "3.60")
        response = client.get(f"/api/v1/orgs/{organization.pk}/statement/?format=csv")
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert [(row["kind"], row["hours"]) for row in rows if row["hours"]] == [
            (kind, hours) for kind, hours, _, _ in hourly_lines]

    def test_an_unknown_currency_code_is_a_400(self, customer, organization):
        response = client_for(customer).get(
            f"/api/v1/orgs/{organization.pk}/balance/?currency=dollars")
        assert response.status_code == 400


class TestFunding:
    def test_the_project_says_why_it_gets_no_work(self, customer, organization,
                                                  other_customer):
        project = paid_project(customer)
        url = f"/api/v1/projects/{project.pk}/funding/"
        data = client_for(customer).get(url).json()
        assert data == {"currency": "USD", "hold_per_task": "4.00", "available": "0.00",
                        "reserved": "0.00", "can_lease": False,
                        "reason": f"{organization.name}'s balance cannot cover another task "
                                  f"at 4.00 USD"}
        assert client_for(other_customer).get(url).status_code == 404

    def test_experts_are_told_in_the_next_reason_header(self, customer, organization):
        project = paid_project(customer)
        response = client_for(factories.expert()).post("/api/v1/assignments/next/")
        assert response.status_code == 204
        assert response["X-Next-Reason"] == (
            f"project {project.pk}: {organization.name}'s balance cannot cover another "
            f"task at 4.00 USD")

    def test_an_hourly_project_holds_a_leases_window_at_its_rate(self, customer,
                                                                  organization):
        """A 30-minute window at 36.00/h holds 18.00; the expert is told what the project's
        funding says."""
        project = hourly_project(customer, assignment_ttl_s=1800)
        url = f"/api/v1/projects/{project.pk}/funding/"
        reason = (f"{organization.name}'s balance cannot cover 0.50 h of work at 36.00 USD/h "
                  f"(18.00 USD)")
        assert client_for(customer).get(url).json() == {
            "currency": "USD", "hold_per_task": "18.00", "available": "0.00",
            "reserved": "0.00", "can_lease": False, "reason": reason}
        response = client_for(factories.expert()).post("/api/v1/assignments/next/")
        assert response.status_code == 204
        assert response["X-Next-Reason"] == f"project {project.pk}: {reason}"
        deposit(organization, "18.00")
        data = client_for(customer).get(url).json()
        assert (data["can_lease"], data["reason"]) == (True, "")


class TestBonuses:
    def test_owners_pay_bonuses_idempotently(self, customer, organization):
        project, expert = worked(customer, organization)
        url = f"/api/v1/projects/{project.pk}/bonuses/"
        body = {"expert": str(expert.pk), "amount": "5.00", "reason": "Careful rewrites",
                "idempotency_key": "march-bonus"}
        client = client_for(customer)
        first = client.post(url, body, format="json")
        assert first.status_code == 201, first.json()
        assert (first.json()["amount"], first.json()["expert_receives"]) == ("5.00", "4.00")
        assert client.post(url, body, format="json").json() == first.json()
        assert client.get(url).json()["count"] == 1
        earnings = client_for(expert).get("/api/v1/me/earnings/").json()
        assert earnings["bonuses"][0]["reason"] == "Careful rewrites"

    def test_reason_is_required_and_qa_leads_may_not_pay(self, customer, organization,
                                                         other_customer):
        project, expert = worked(customer, organization)
        url = f"/api/v1/projects/{project.pk}/bonuses/"
        body = {"expert": str(expert.pk), "amount": "1.00", "idempotency_key": "k"}
        response = client_for(customer).post(url, body, format="json")
        assert response.status_code == 400 and "reason" in response.json()
        qa_lead = factories.member(organization, role=Membership.Role.QA_LEAD)
        body["reason"] = "Nice"
        assert client_for(qa_lead).post(url, body, format="json").status_code == 403
        assert client_for(other_customer).post(url, body, format="json").status_code == 404

    def test_insufficient_funds_is_a_409(self, customer, organization):
        project, expert = worked(customer, organization)
        response = client_for(customer).post(
            f"/api/v1/projects/{project.pk}/bonuses/",
            {"expert": str(expert.pk), "amount": "12.01", "reason": "Big",
             "idempotency_key": "too-big"}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "insufficient_funds")

    def test_quality_bonus_policy(self, customer, organization):
        project = paid_project(customer)
        url = f"/api/v1/projects/{project.pk}/quality-bonus/"
        client = client_for(customer)
        assert client.get(url).status_code == 404
        response = client.put(url, {"rate": "0.100", "min_trust": "0.850"}, format="json")
        assert response.status_code == 200, response.json()
        assert (response.json()["rate"], response.json()["min_trust"]) == ("0.100", "0.850")
        assert client.get(f"/api/v1/projects/{project.pk}/funding/").json()[
            "hold_per_task"] == "4.40"
        assert client.put(url, {"rate": "0", "min_trust": "0.5"},
                          format="json").status_code == 400
        assert client.delete(url).status_code == 204
        assert client.get(url).status_code == 404


class TestEarnings:
    def test_earnings_per_project_rejections_and_csv(self, customer, organization):
        project, expert = worked(customer, organization)
        client = client_for(expert)
        data = client.get("/api/v1/me/earnings/").json()
        assert (data["balance"], data["currency"], data["pending_payouts"]) == (
            "3.20", "USD", "0.00")
        [row] = data["per_project"]
        assert {key: row[key] for key in ["project", "name", "contract", "earned", "bonuses",
                                          "approved_tasks"]} == {
            "project": project.pk, "name": project.name, "contract": "per_task",
            "earned": "3.20", "bonuses": "0.00", "approved_tasks": 1}
        assert [(r["project"], r["amount"]) for r in data["rejected"]] == [(project.pk, "4.00")]
        assert [(e["kind"], e["amount"]) for e in data["entries"]] == [("approval", "3.20")]
        assert floats_in(data) == []
        response = client.get("/api/v1/me/earnings/?format=csv")
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert [(row["kind"], row["amount"]) for row in rows] == [("approval", "3.20")]

    def test_hours_and_effective_rates_per_project_and_in_total(self, customer,
                                                                organization):
        """Per task: 4.00 a task after the fee, one answered 30 minutes after its lease (no
        heartbeats), one with 10 minutes of tracked time: 8.00 over 40 minutes, 12.00/h.
        Hourly: 45 minutes awaiting the weekly payment have no rate yet (and leave the total
        alone), then 21.60 for 45 minutes, 28.80/h."""
        deposit(organization, "10.00")
        per_task = paid_project(customer, price="5.00")
        expert = factories.expert()
        task_services.approve_assignment(timed(lease(expert, per_task, 0).assignment,
                                               duration_s=1800))
        task_services.approve_assignment(timed(lease(expert, per_task, 1).assignment,
                                               active_s=600, duration_s=5000))
        hourly_project_, _ = hourly_worked(customer, organization, expert)
        client = client_for(expert)
        data = client.get("/api/v1/me/earnings/").json()
        assert [(row["project"], row["contract"], row["approved_tasks"], row["hours"],
                 row["earned"], row["effective_hourly_rate"]) for row in data["per_project"]
                ] == [(per_task.pk, "per_task", 2, "0.67", "8.00", "12.00"),
                      (hourly_project_.pk, "hourly", 1, "0.75", "0.00", None)]
        assert (data["hours"], data["effective_hourly_rate"]) == ("1.42", "12.00")
        assert [(row["hours"], row["amount"], row["expert_receives"], row["status"])
                for row in data["pending"]] == [("0.50", "18.00", "14.40", "payable"),
                                                ("0.25", "9.00", "7.20", "payable")]
        assert data["weekly_payments"] == [] and data["withheld"] == []

        assert hourly.pay_weekly(next_week()) == 1
        data = client.get("/api/v1/me/earnings/").json()
        assert [(row["hours"], row["earned"], row["effective_hourly_rate"])
                for row in data["per_project"]] == [("0.67", "8.00", "12.00"),
                                                    ("0.75", "21.60", "28.80")]
        assert (data["hours"], data["effective_hourly_rate"]) == ("1.42", "20.89")
        [payment] = data["weekly_payments"]
        assert {key: payment[key] for key in ["project", "hours", "rate", "amount", "fee",
                                              "net", "currency"]} == {
            "project": hourly_project_.pk, "hours": "0.75", "rate": "36.00",
            "amount": "27.00", "fee": "5.40", "net": "21.60", "currency": "USD"}
        leased_at = hourly_project_.assignments.first().leased_at
        assert payment["week"] == week_start(leased_at).date().isoformat()
        assert data["pending"] == []
        [line] = [entry for entry in data["entries"] if entry["kind"] == "hourly_payment"]
        assert (line["memo"], line["amount"]) == (
            f"Week of {payment['week']}: 0.75 h at 36.00/h", "21.60")
        assert floats_in(data) == []

    def test_withheld_time_shows_its_reason_and_is_not_paid(self, customer, organization,
                                                            staff):
        project, expert = hourly_worked(customer, organization)
        rejected = Assignment.objects.get(project=project, status="rejected")
        hourly.withhold_time(assignment=rejected, reason="The answers were pasted from a "
                                                        "chatbot.", by=staff)
        hourly.pay_weekly(next_week())
        data = client_for(expert).get("/api/v1/me/earnings/").json()
        [withheld] = data["withheld"]
        assert (withheld["assignment"], withheld["hours"], withheld["status"],
                withheld["withheld_reason"]) == (
            rejected.pk, "0.25", "withheld", "The answers were pasted from a chatbot.")
        assert "withheld_by" not in withheld
        [row] = data["per_project"]
        assert (row["hours"], row["earned"], row["effective_hourly_rate"]) == (
            "0.75", "14.40", "19.20")
        assert client_for(factories.expert()).get("/api/v1/me/earnings/").json()[
            "withheld"] == []

    def test_customers_have_no_earnings(self, customer, api):
        assert api.get("/api/v1/me/earnings/").status_code == 401
        assert client_for(customer).get("/api/v1/me/earnings/").status_code == 403


def test_the_schema_describes_money_as_decimal_strings(staff):
    schema = client_for(staff).get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    for name, field in [("Balance", "available"), ("Payout", "amount"),
                        ("Earnings", "balance"), ("StatementLine", "fee"),
                        ("Funding", "hold_per_task"), ("Bonus", "amount")]:
        assert components[name]["properties"][field]["type"] == "string", (name, field)
        assert components[name]["properties"][field]["format"] == "decimal"
    assert "number" not in json.dumps({name: components[name] for name in [
        "Balance", "Payout", "Earnings", "StatementLine", "Funding", "Bonus", "Deposit"]})


def test_money_is_decimal_in_every_model_and_response(customer, organization):
    from django.apps import apps

    for model in apps.get_app_config("marketplace").get_models():
        for field in model._meta.get_fields():
            assert field.get_internal_type() != "FloatField", f"{model.__name__}.{field.name}"
    project, expert = worked(customer, organization)
    services.request_payout(expert=expert, amount=Decimal("1.00"), currency="USD")
    for client, url in [(client_for(expert), "/api/v1/me/earnings/"),
                        (client_for(expert), "/api/v1/me/payouts/"),
                        (client_for(customer), f"/api/v1/orgs/{organization.pk}/balance/"),
                        (client_for(customer), f"/api/v1/orgs/{organization.pk}/statement/"),
                        (client_for(customer), f"/api/v1/projects/{project.pk}/funding/")]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert floats_in(json.loads(response.content)) == [], url


def test_every_money_endpoint_answers_anonymous_callers_401(customer, organization, api):
    project = paid_project(customer)
    org, pk = organization.pk, project.pk
    for method, url in [
        ("get", f"/api/v1/orgs/{org}/deposits/"), ("post", f"/api/v1/orgs/{org}/deposits/"),
        ("post", f"/api/v1/orgs/{org}/refunds/"), ("get", f"/api/v1/orgs/{org}/balance/"),
        ("get", f"/api/v1/orgs/{org}/statement/"), ("get", f"/api/v1/projects/{pk}/funding/"),
        ("get", f"/api/v1/projects/{pk}/bonuses/"), ("post", f"/api/v1/projects/{pk}/bonuses/"),
        ("put", f"/api/v1/projects/{pk}/quality-bonus/"),
        ("get", f"/api/v1/projects/{pk}/invitations/"),
        ("get", f"/api/v1/projects/{pk}/applications/"), ("get", "/api/v1/experts/"),
        ("get", "/api/v1/marketplace/projects/"), ("get", "/api/v1/me/earnings/"),
        ("get", "/api/v1/me/payouts/"), ("get", "/api/v1/me/invitations/"),
        ("get", "/api/v1/me/applications/"),
    ]:
        assert getattr(api, method)(url, {}, format="json").status_code == 401, (method, url)


def test_another_organizations_project_money_is_a_404(customer, other_customer):
    project = paid_project(customer)
    client = client_for(other_customer)
    for url in [f"/api/v1/projects/{project.pk}/funding/",
                f"/api/v1/projects/{project.pk}/bonuses/",
                f"/api/v1/projects/{project.pk}/quality-bonus/",
                f"/api/v1/projects/{project.pk}/invitations/"]:
        assert client.get(url).status_code == 404, url
    assert client.put(f"/api/v1/projects/{project.pk}/quality-bonus/",
                      {"rate": "0.1", "min_trust": "0.5"}, format="json").status_code == 404
    expert = client_for(factories.expert())
    assert expert.get(f"/api/v1/projects/{project.pk}/funding/").status_code == 404
