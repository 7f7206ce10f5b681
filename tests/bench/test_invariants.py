"""The load benchmark's invariant checks find what breaks them, and nothing in good books.

The broken states are written straight into the tables, as a bug or a crash would leave
them; the services never produce them.
"""

from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bench.common import conninfo
from bench.invariants import batch_outcome, violations
from durable.models import Job
from marketplace import services as money_services
from marketplace.models import Entry, Transaction
from tasks import services as task_services
from tasks.models import Assignment, Batch, Item
from tests import factories

pytestmark = pytest.mark.postgres


def _counts() -> dict[str, int]:
    found = violations(conninfo(connection.settings_dict["NAME"]), excluded_batches=[0])
    return {name: check["count"] for name, check in found.items() if check["count"]}


@pytest.fixture
def worked():
    """A funded project with one item answered once, through the services."""
    owner = factories.customer()
    factories.fund(factories.organization_of(owner))
    project = factories.project(owner, items=2, overlap=1, max_overlap=1,
                                price_per_item=Decimal("2.00"))
    first, second = factories.expert(), factories.expert()
    factories.answered(first, project)
    return project, first, second


def test_work_done_through_the_services_breaks_no_invariant(worked):
    assert _counts() == {}


def test_an_item_answered_past_its_overlap_is_found(worked):
    project, first, second = worked
    item = Assignment.objects.get(expert=first).item
    now = timezone.now()
    Assignment.objects.create(item=item, project=project, expert=second, status="submitted",
                              leased_at=now, expires_at=now, submitted_at=now)

    assert _counts() == {
        "item with more open and done assignments than its overlap": 1,
        "item whose slot counters disagree with its assignments": 1,
    }


@contextmanager
def _triggers_off():
    """The ledger's own trigger refuses an unbalanced transaction; switched off for this
    session, the table takes what a bug in the trigger would let through."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = origin")


def test_an_entry_that_unbalances_a_transaction_is_found(worked):
    posted = Transaction.objects.filter(kind="deposit").get()
    line = posted.entries.first()
    with _triggers_off():
        Entry.objects.create(transaction=posted, account=line.account, amount=Decimal("0.01"),
                             currency=line.account.currency)

    assert _counts() == {
        "ledger transaction whose entries do not sum to zero": 1,
        "currency whose entries do not sum to zero": 1,
        "account whose cached balance is not the sum of its entries": 1,
    }


def test_a_second_approval_of_one_assignment_is_found(worked):
    project, first, _ = worked
    assignment = Assignment.objects.get(expert=first)
    reservation = Transaction.objects.get(kind="reservation", assignment=assignment)
    with transaction.atomic():
        copy = Transaction.objects.create(kind="reservation", idempotency_key="reserve:again",
                                          assignment=assignment, project=project)
        Entry.objects.bulk_create([Entry(transaction=copy, account=entry.account,
                                         amount=entry.amount, currency=entry.currency)
                                   for entry in reservation.entries.all()])

    assert _counts() == {
        "assignment paid or reserved for twice": 1,
        "account whose cached balance is not the sum of its entries": 2,
    }


def _background_batch(project, rows: int) -> Batch:
    batch = Batch.objects.create(project=project, file_format="jsonl", status="done",
                                 rows=rows, created=rows, upload_path="uploads/gone.jsonl",
                                 finished_at=timezone.now())
    Item.objects.bulk_create([Item(project=project, batch=batch, external_id=f"b-{n}",
                                   data=factories.preference_data(n), overlap=1)
                              for n in range(rows)])
    Job.objects.create(func="tasks.jobs.process_batch", args=[batch.pk], status="done",
                       key=f"tasks.process_batch:{batch.pk}", available_at=timezone.now(),
                       attempts=2, failures=1)
    return batch


def test_a_background_batch_ends_well_only_with_all_its_rows_and_one_finished_job(
        worked, tmp_path):
    project, _, _ = worked
    batch = _background_batch(project, rows=3)
    dsn = conninfo(connection.settings_dict["NAME"])

    outcome = batch_outcome(dsn, batch.pk, 3, tmp_path)
    assert outcome["ok"] and outcome["jobs"] == [{
        "key": f"tasks.process_batch:{batch.pk}", "status": "done", "attempts": 2,
        "failures": 1}]

    (tmp_path / "media" / "uploads").mkdir(parents=True)
    (tmp_path / "media" / "uploads" / "gone.jsonl").write_text("{}\n")
    assert batch_outcome(dsn, batch.pk, 3, tmp_path)["spool_left"]
    assert not batch_outcome(dsn, batch.pk, 3, tmp_path)["ok"]
    (tmp_path / "media" / "uploads" / "gone.jsonl").unlink()

    Item.objects.filter(batch=batch).first().delete()
    assert not batch_outcome(dsn, batch.pk, 3, tmp_path)["ok"]
    assert not batch_outcome(dsn, batch.pk, 4, tmp_path)["ok"]


def test_a_payout_taken_twice_from_the_balance_is_found(worked):
    _, first, _ = worked
    task_services.approve_assignment(Assignment.objects.get(expert=first))
    payout, _ = money_services.request_payout(expert=first, amount=Decimal("1.00"),
                                              currency="USD", idempotency_key="k1")
    assert _counts() == {}
    request = Transaction.objects.get(kind="payout_request", payout=payout)
    with transaction.atomic():
        again = Transaction.objects.create(kind="payout_request", payout=payout,
                                           idempotency_key=f"payout:{payout.pk}:again")
        Entry.objects.bulk_create([Entry(transaction=again, account=entry.account,
                                         amount=entry.amount, currency=entry.currency)
                                   for entry in request.entries.all()])

    assert _counts() == {
        "payout not taken from the balance exactly once": 1,
        # The expert's account; payouts in flight keep no cached balance.
        "account whose cached balance is not the sum of its entries": 1,
    }
