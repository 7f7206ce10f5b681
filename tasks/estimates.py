"""How long an item takes, what that pays per hour, and the floor under it.

Experts weigh a project by its time per item as much as by its price. Until a project has
``ESTIMATE_MIN_APPROVED`` approved answers, the customer's own estimate
(``Project.estimated_seconds``) stands; from then on the median of the approved answers'
working time replaces it (active time from heartbeats where there is any, the answer's
measured duration otherwise), so an estimate a customer set too low corrects itself.

The implied hourly rate is what that time pays the expert after the platform fee
(``config.money.after_fee``), and ``settings.HOURLY_RATE_FLOOR`` is the least a paid project
may imply: a customer cannot publish a project below it, nor move one below it while it runs.
"""

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Aggregate, Case, Count, F, FloatField, Q, When
from django.db.models.functions import Cast

from config.money import CENT, after_fee, money

from .models import Assignment, Project

MEASURED = "measured"
CUSTOMER = "customer"
SOURCE_WORDS = {CUSTOMER: "customer's estimate"}
# Fields whose change can move a running project's implied hourly rate.
PAY_FIELDS = frozenset({"contract", "price_per_item", "hourly_rate", "estimated_seconds"})


@dataclass(frozen=True)
class Estimate:
    """Seconds an item takes (None when nobody knows yet), where the figure comes from
    (``measured``, ``customer`` or None) and how many approved answers were timed."""

    seconds: int | None
    source: str | None
    approved: int

    @property
    def words(self) -> str:
        """Where the figure comes from, in brackets after it: "customer's estimate",
        "median of 12 approved answers"."""
        if self.source == MEASURED:
            return f"median of {self.approved} approved answers"
        return SOURCE_WORDS.get(self.source or "", "no estimate")


class Median(Aggregate):
    """The continuous median, PostgreSQL's ``percentile_cont(0.5)``."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def working_seconds() -> Case:
    """An answer's working time, as a database expression: its active time when heartbeats
    measured any, else the duration the answer reported. Estimates and experts' effective
    rates read the same time."""
    return Case(When(active_s__gt=0, then=Cast("active_s", FloatField())),
                default=F("duration_s"), output_field=FloatField())


def _timed_approved(project_ids: list[int]):
    return Assignment.objects.filter(
        Q(active_s__gt=0) | Q(duration_s__isnull=False),
        project_id__in=project_ids, status=Assignment.Status.APPROVED)


def _measured(project_ids: list[int]) -> dict[int, tuple[int, float]]:
    """(approved answers timed, their median seconds) per project, in one query."""
    if not project_ids:
        return {}
    rows = _timed_approved(project_ids)
    if connection.vendor == "postgresql":
        return {row["project_id"]: (row["approved"], row["median"]) for row in
                rows.values("project_id").order_by()
                .annotate(approved=Count("id"), median=Median(working_seconds()))}
    times: dict[int, list[float]] = {}
    for project_id, seconds in rows.annotate(seconds=working_seconds()).values_list(
            "project_id", "seconds"):
        times.setdefault(project_id, []).append(seconds)
    return {project_id: (len(values), statistics.median(values))
            for project_id, values in times.items()}


def _estimate(project: Project, measured: tuple[int, float] | None) -> Estimate:
    approved, median = measured or (0, None)
    if median is not None and approved >= settings.ESTIMATE_MIN_APPROVED:
        return Estimate(max(1, round(median)), MEASURED, approved)
    if project.estimated_seconds:
        return Estimate(project.estimated_seconds, CUSTOMER, approved)
    return Estimate(None, None, approved)


def estimate_of(project: Project) -> Estimate:
    """The project's time per item as experts are shown it."""
    return _estimate(project, _measured([project.pk]).get(project.pk))


def estimates_of(projects: Iterable[Project]) -> dict[int, Estimate]:
    """Each project's estimate by id, for a listing: one query for all of them."""
    projects = list(projects)
    measured = _measured([project.pk for project in projects])
    return {project.pk: _estimate(project, measured.get(project.pk)) for project in projects}


def implied_hourly_rate(project: Project, estimate: Estimate) -> Decimal | None:
    """What an hour of the project's work pays the expert after the platform fee: the hourly
    rate itself on an hourly contract, the price per item over the estimated time on a per-task
    one (None while there is no estimate)."""
    if project.contract == Project.Contract.HOURLY:
        return after_fee(project.hourly_rate)
    if not estimate.seconds:
        return None
    return money(after_fee(project.price_per_item) * 3600 / estimate.seconds)


def duration_words(seconds: int) -> str:
    """"20 min", "45 s", "1 h 10 min": a time per item as people say it."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _hours(value: Decimal) -> str:
    return f"{value.normalize():f}"


def pay_line(project: Project, estimate: Estimate) -> str:
    """The line an expert reads before taking work: "About 4 min per item · about 36.00
    USD/h after fees", or on an hourly contract "40.00 USD/h after fees, hourly, up to 20 h
    a week"; empty for an unpaid project without an estimate."""
    parts = []
    if estimate.seconds:
        parts.append(f"About {duration_words(estimate.seconds)} per item")
    rate = implied_hourly_rate(project, estimate)
    if project.contract == Project.Contract.HOURLY:
        parts.append(f"{rate} {project.currency}/h after fees, hourly, up to "
                     f"{_hours(project.weekly_cap_hours)} h a week")
    elif rate is not None and project.price_per_item > 0:
        parts.append(f"about {rate} {project.currency}/h after fees")
    return " · ".join(parts)


def work_header(project: Project) -> dict:
    """The work page's estimate line and its source, for ``tasks/web/work_estimate.html``."""
    estimate = estimate_of(project)
    return {"line": pay_line(project, estimate), "source": estimate.words
            if estimate.seconds else ""}


# The floor.

def _least_price(seconds: int, floor: Decimal) -> Decimal:
    """The lowest price, in cents, whose rate for `seconds` of work reaches the floor (for
    3600 seconds, the lowest hourly rate)."""
    fee_rate = Decimal(settings.PLATFORM_FEE_RATE)
    price = money(floor * seconds / 3600 / (1 - fee_rate)) - 2 * CENT if fee_rate < 1 else CENT
    price = max(price, CENT)
    while money(after_fee(price) * 3600 / seconds) < floor:
        price += CENT
    return price


def floor_shortfall(project: Project, estimate: Estimate) -> dict[str, list[str]] | None:
    """Why the project pays below the hourly floor, as a field error; None when it does not.
    An unpaid project and a per-task project without any estimate are not held to it."""
    floor = Decimal(settings.HOURLY_RATE_FLOOR)
    rate = implied_hourly_rate(project, estimate)
    currency = project.currency
    if project.contract == Project.Contract.HOURLY:
        if project.hourly_rate <= 0 or rate >= floor:
            return None
        return {"hourly_rate": [
            f"{project.hourly_rate} {currency} per hour pays the expert {rate} {currency}/h "
            f"after the platform fee, below the floor of {floor:.2f} {currency}/h; raise the "
            f"rate to at least {_least_price(3600, floor)} {currency}."]}
    if project.price_per_item <= 0 or rate is None or rate >= floor:
        return None
    return {"price_per_item": [
        f"{project.price_per_item} {currency} per item for about "
        f"{duration_words(estimate.seconds)} ({estimate.words}) pays the expert {rate} "
        f"{currency}/h after the platform fee, below the floor of {floor:.2f} {currency}/h; "
        f"raise the price to at least {_least_price(estimate.seconds, floor)} {currency}"
        + (" or lower the estimate." if estimate.source == CUSTOMER else ".")]}


def check_floor(project: Project, *, before: Project | None = None) -> None:
    """Refuse (ValidationError on the price's field) a paid project whose implied hourly rate
    is below the floor. With `before`, the project as it was, a change is refused only when
    it leaves the project below the floor at a lower rate than before: a customer may always
    raise the pay of a project the measured time has pushed under the floor."""
    measured = _measured([project.pk]).get(project.pk)
    estimate = _estimate(project, measured)
    shortfall = floor_shortfall(project, estimate)
    if shortfall is None:
        return
    if before is not None:
        old = implied_hourly_rate(before, _estimate(before, measured))
        new = implied_hourly_rate(project, estimate)
        if (old is not None and new is not None and new >= old
                and before.contract == project.contract):
            return
    raise ValidationError(shortfall)
