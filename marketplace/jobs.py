"""Background jobs of the money side. Each is idempotent: running it twice, or in two workers
at once, pays nobody twice."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from config.exceptions import Conflict

from . import services
from .models import Payout
from .providers import get_provider

logger = logging.getLogger(__name__)

SCHEDULES = [
    # (function, minutes between runs)
    ("marketplace.jobs.process_payouts", 5),
    ("marketplace.hourly.pay_weekly", 60),
]


def resend_after() -> timedelta:
    """How long a batch may stay processing before it is sent again. Longer than a job may
    run (django-q's timeout), so that a live worker's batch is never sent beside it."""
    return timedelta(seconds=settings.PAYOUT_RESEND_AFTER_S)


def process_payouts(limit: int = 500) -> int:
    """Send requested payouts through the provider and record its answers; returns how many
    payouts were settled.

    Claiming (requested -> processing) commits before the provider is called, so no
    database transaction waits on it; settling takes each payout's row lock and checks its
    status, so a batch answered twice settles once. Batches left processing by a worker that
    died are sent again once they are older than `resend_after`; the provider answers those
    from its records.
    """
    provider = get_provider()
    batches = list(Payout.objects.filter(
        status=Payout.Status.PROCESSING, processing_at__lte=timezone.now() - resend_after())
        .order_by("batch").values_list("batch", flat=True).distinct())
    claimed = services.claim_payouts(provider=provider.name, limit=limit)
    if claimed:
        batches.append(claimed)
    return sum(send_batch(provider, batch) for batch in batches)


def send_batch(provider, batch: str) -> int:
    payouts = list(Payout.objects.filter(batch=batch, status=Payout.Status.PROCESSING)
                   .select_related("expert__expert_profile").order_by("pk"))
    if not payouts:
        return 0
    settled = 0
    for result in provider.send(batch, payouts):
        try:
            services.settle_payout(payout=Payout(pk=result.payout_id), paid=result.paid,
                                   reference=result.reference, reason=result.error)
        except Conflict as exc:
            # An operator settled it by hand the other way meanwhile: theirs stands.
            logger.error("payout %s: provider answered %s but %s", result.payout_id,
                         "paid" if result.paid else "failed", exc.message)
            continue
        settled += 1
    return settled

