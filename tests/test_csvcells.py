"""Every CSV the service writes keeps text a spreadsheet would run as a formula inert, and
numbers, negative ones included, as numbers."""

import csv
import io
from decimal import Decimal

import pytest

from accounts.models import ExpertProfile
from config.csvcells import cell
from marketplace import jobs, services
from marketplace.providers import FilePayoutProvider
from tasks import services as task_services
from tasks.models import Item, Project
from tests import factories
from tests.conftest import client_for
from tests.marketplace.conftest import deposit, lease, paid_project, submit
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example","x")'


@pytest.mark.parametrize(("value", "written"), [
    ("=1+2", "'=1+2"), ("+1+2", "'+1+2"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-12", "-12"), ("-12.50", "-12.50"), ("12", "12"),
    (-3, "-3"), (-0.5, "-0.5"), (-1e-05, "-1e-05"), (Decimal("-4.00"), "-4.00"),
    (None, ""), ("plain", "plain"), ("a=b", "a=b"), ("-", "'-"), ("", ""),
])
def test_a_cell_is_inert_and_numbers_stay_numbers(value, written):
    assert cell(value) == written


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def hostile_project(customer):
    """A project whose items' external ids are a formula and a negative number, both
    answered."""
    project = factories.project(customer, items=2, overlap=1)
    Item.objects.filter(project=project, external_id="item-0").update(external_id=FORMULA)
    Item.objects.filter(project=project, external_id="item-1").update(external_id="-12")
    expert = factories.expert()
    for _ in range(2):
        factories.answered(expert, project, {"better": "A", "rewrite": "=cmd()"})
    return project


@pytest.mark.parametrize("view", ["raw", "consensus"])
def test_dataset_exports_write_formulas_inert(customer, hostile_project, view):
    response = client_for(customer).get(f"/api/v1/projects/{hostile_project.pk}/export/",
                                        {"view": view, "format": "csv"})
    external_ids = sorted(row["external_id"] for row in rows_of(response))
    assert external_ids == ["'" + FORMULA, "-12"]


def test_the_workspace_export_is_the_same_file(customer, hostile_project):
    response = signed_in(customer).get(
        f"/workspace/projects/{hostile_project.pk}/export/raw.csv")
    assert sorted(row["external_id"] for row in rows_of(response)) == ["'" + FORMULA, "-12"]


@pytest.fixture
def earner(customer):
    """An expert paid for one task of a project named like a formula."""
    deposit(factories.organization_of(customer), "50.00")
    project = paid_project(customer)
    Project.objects.filter(pk=project.pk).update(name=FORMULA)
    expert = factories.expert()
    task_services.approve_assignment(submit(lease(expert, project, 0).assignment))
    return expert


def test_the_organizations_statement_writes_formulas_inert(customer, earner):
    organization = factories.organization_of(customer)
    rows = rows_of(client_for(customer).get(
        f"/api/v1/orgs/{organization.pk}/statement/", {"format": "csv"}))
    named = [row for row in rows if row["project_name"]]
    assert named and {row["project_name"] for row in named} == {"'" + FORMULA}
    assert "-4.00" in {row["reserved"] for row in rows}


@pytest.mark.parametrize("url", ["/api/v1/me/earnings/?format=csv",
                                 "/workspace/earnings/statement.csv"])
def test_the_experts_earnings_write_formulas_inert(earner, url):
    client = client_for(earner) if url.startswith("/api/") else signed_in(earner)
    rows = rows_of(client.get(url))
    assert [row["project_name"] for row in rows] == ["'" + FORMULA]


def test_the_payout_file_writes_formulas_inert(earner, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    ExpertProfile.objects.filter(user=earner).update(full_name="@SUM(1+1)*cmd|' /C calc'!A0")
    payout, _ = services.request_payout(expert=earner, amount=Decimal("3.20"), currency="USD")
    assert jobs.process_payouts() == 1
    payout.refresh_from_db()
    with FilePayoutProvider().path(payout.reference.removeprefix("payouts-").removesuffix(
            ".csv")).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["full_name"], row["amount"]) for row in rows] == [
        ("'@SUM(1+1)*cmd|' /C calc'!A0", "3.20")]
