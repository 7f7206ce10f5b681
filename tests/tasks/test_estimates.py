from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tasks import estimates, services
from tasks.estimates import Estimate
from tasks.models import Assignment, Project
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.ESTIMATE_MIN_APPROVED = 3
    settings.HOURLY_RATE_FLOOR = Decimal("15.00")
    settings.PLATFORM_FEE_RATE = Decimal("0.20")


def with_settings(project: Project, **values) -> Project:
    """Settings written straight into the row, as a project holds them before any check."""
    Project.objects.filter(pk=project.pk).update(**values)
    project.refresh_from_db()
    return project


def timed(project: Project, *times: tuple[float | None, int], status: str = "approved"):
    """One answer per (duration_s, active_s) pair, each on an item of its own."""
    items = list(project.items.filter(is_gold=False).order_by("pk"))
    for item, (duration_s, active_s) in zip(items, times, strict=False):
        annotation = factories.recorded_answer(project, item, factories.expert(),
                                               {"better": "A"}, status=status)
        Assignment.objects.filter(pk=annotation.assignment_id).update(
            duration_s=duration_s, active_s=active_s)


class TestEstimateOf:
    def test_nothing_known_is_no_estimate(self, customer):
        project = factories.project(customer, items=1)
        assert estimates.estimate_of(project) == Estimate(None, None, 0)

    def test_the_customer_estimate_stands_below_the_threshold(self, customer):
        project = with_settings(factories.project(customer, items=3), estimated_seconds=600)
        timed(project, (100, 0), (200, 0))
        assert estimates.estimate_of(project) == Estimate(600, "customer", 2)

    def test_the_median_of_approved_answers_takes_over_at_the_threshold(self, customer):
        project = with_settings(factories.project(customer, items=4), estimated_seconds=600)
        timed(project, (100, 0), (200, 0), (900, 0))
        assert estimates.estimate_of(project) == Estimate(200, "measured", 3)
        timed(project, (300.4, 0))
        assert estimates.estimate_of(project) == Estimate(250, "measured", 4)

    def test_active_time_counts_where_heartbeats_measured_it(self, customer):
        project = factories.project(customer, items=3)
        timed(project, (1000, 60), (1000, 80), (50, 0))
        assert estimates.estimate_of(project) == Estimate(60, "measured", 3)

    def test_only_approved_timed_answers_count(self, customer):
        project = with_settings(factories.project(customer, items=3), estimated_seconds=90)
        timed(project, (10, 0), (10, 0), (10, 0), status="submitted")
        timed(project, (None, 0))
        assert estimates.estimate_of(project) == Estimate(90, "customer", 0)

    def test_the_bulk_read_gives_each_project_its_own_in_one_query(
            self, customer, django_assert_num_queries):
        measured = factories.project(customer, items=3)
        timed(measured, (30, 0), (40, 0), (50, 0))
        guessed = with_settings(factories.project(customer, items=1), estimated_seconds=700)
        unknown = factories.project(customer, items=1)
        with django_assert_num_queries(1):
            found = estimates.estimates_of([measured, guessed, unknown])
        assert found == {measured.pk: Estimate(40, "measured", 3),
                         guessed.pk: Estimate(700, "customer", 0),
                         unknown.pk: Estimate(None, None, 0)}
        assert estimates.estimates_of([]) == {}


class TestImpliedRate:
    def test_per_task_is_the_price_after_fee_over_the_time(self, customer):
        project = factories.project(customer, price_per_item=Decimal("3.00"))
        assert estimates.implied_hourly_rate(project, Estimate(240, "customer", 0)) == Decimal(
            "36.00")
        assert estimates.implied_hourly_rate(project, Estimate(None, None, 0)) is None

    def test_hourly_is_the_rate_after_fee(self, customer):
        project = with_settings(factories.project(customer), contract="hourly",
                                price_per_item=0, hourly_rate=Decimal("50.00"))
        assert estimates.implied_hourly_rate(project, Estimate(None, None, 0)) == Decimal(
            "40.00")

    def test_the_pay_line(self, customer):
        project = factories.project(customer, price_per_item=Decimal("3.00"))
        assert estimates.pay_line(project, Estimate(240, "customer", 0)) == (
            "About 4 min per item · about 36.00 USD/h after fees")
        assert estimates.pay_line(project, Estimate(None, None, 0)) == ""
        hourly = with_settings(project, contract="hourly", price_per_item=0,
                               hourly_rate=Decimal("50.00"), weekly_cap_hours=Decimal("20"))
        assert estimates.pay_line(hourly, Estimate(None, None, 0)) == (
            "40.00 USD/h after fees, hourly, up to 20 h a week")
        assert estimates.pay_line(hourly, Estimate(45, "measured", 12)) == (
            "About 45 s per item · 40.00 USD/h after fees, hourly, up to 20 h a week")

    @pytest.mark.parametrize(("seconds", "words"), [
        (1, "1 s"), (59, "59 s"), (60, "1 min"), (1199, "20 min"), (3600, "1 h"),
        (4200, "1 h 10 min")])
    def test_durations_in_words(self, seconds, words):
        assert estimates.duration_words(seconds) == words


FLOOR_MESSAGE = (
    "4.00 USD per item for about 20 min (customer's estimate) pays the expert 9.60 USD/h after "
    "the platform fee, below the floor of 15.00 USD/h; raise the price to at least 6.25 USD or "
    "lower the estimate.")


class TestFloor:
    def draft(self, customer, **values) -> Project:
        project = factories.project(customer, items=2, activate=False,
                                    price_per_item=values.pop("price_per_item", Decimal("4.00")))
        return with_settings(project, **values)

    def test_publishing_below_the_floor_is_refused_with_the_figures(self, customer):
        project = self.draft(customer, estimated_seconds=1200)
        with pytest.raises(ValidationError) as excinfo:
            services.transition_project(user=customer, project=project, action="activate")
        assert excinfo.value.message_dict == {"price_per_item": [FLOOR_MESSAGE]}
        project.refresh_from_db()
        assert project.status == Project.Status.DRAFT

    def test_the_least_price_named_reaches_the_floor(self, customer):
        project = self.draft(customer, estimated_seconds=1200, price_per_item=Decimal("6.24"))
        with pytest.raises(ValidationError, match=r"at least 6\.25 USD"):
            services.transition_project(user=customer, project=project, action="activate")
        with_settings(project, price_per_item=Decimal("6.25"))
        services.transition_project(user=customer, project=project, action="activate")

    def test_a_measured_estimate_is_named_as_such(self, customer):
        project = self.draft(customer, estimated_seconds=60, price_per_item=Decimal("1.00"))
        timed(project, (600, 0), (600, 0))
        timed(project, (600, 0))
        with pytest.raises(ValidationError) as excinfo:
            services.transition_project(user=customer, project=project, action="activate")
        [message] = excinfo.value.message_dict["price_per_item"]
        assert message.startswith("1.00 USD per item for about 10 min (median of 3 approved "
                                  "answers) pays the expert 4.80 USD/h")
        assert message.endswith("raise the price to at least 3.12 USD.")

    @pytest.mark.parametrize("values", [
        {"price_per_item": Decimal("0")},
        {"estimated_seconds": None},
        {"estimated_seconds": 600},
    ], ids=["unpaid", "no estimate", "pays enough"])
    def test_exempt_or_enough_is_published(self, customer, values):
        project = self.draft(customer, **{"estimated_seconds": 1200, **values})
        services.transition_project(user=customer, project=project, action="activate")
        project.refresh_from_db()
        assert project.status == Project.Status.ACTIVE

    def test_a_running_project_cannot_be_moved_below(self, customer):
        project = self.draft(customer, estimated_seconds=600)
        services.transition_project(user=customer, project=project, action="activate")
        with pytest.raises(ValidationError) as excinfo:
            services.update_project(user=customer, project=project, estimated_seconds=1200)
        assert excinfo.value.message_dict == {"price_per_item": [FLOOR_MESSAGE]}
        project.refresh_from_db()
        assert project.estimated_seconds == 600
        services.update_project(user=customer, project=project, estimated_seconds=700)
        project.refresh_from_db()
        assert project.estimated_seconds == 700

    def test_a_draft_may_be_set_below_until_it_is_published(self, customer):
        project = self.draft(customer, estimated_seconds=600)
        services.update_project(user=customer, project=project, estimated_seconds=1200)
        project.refresh_from_db()
        assert project.estimated_seconds == 1200

    def test_raising_the_pay_of_a_project_under_the_floor_is_allowed(self, customer):
        project = self.draft(customer, estimated_seconds=600)
        services.transition_project(user=customer, project=project, action="activate")
        with_settings(project, estimated_seconds=3600)  # as measured time may push it under
        services.update_project(user=customer, project=project, estimated_seconds=3000)
        with pytest.raises(ValidationError):
            services.update_project(user=customer, project=project, estimated_seconds=3600)

    def test_an_hourly_rate_below_the_floor_is_refused(self, customer):
        project = self.draft(customer, contract="hourly", price_per_item=Decimal("0"),
                             hourly_rate=Decimal("18.00"))
        with pytest.raises(ValidationError) as excinfo:
            services.transition_project(user=customer, project=project, action="activate")
        assert excinfo.value.message_dict == {"hourly_rate": [
            "18.00 USD per hour pays the expert 14.40 USD/h after the platform fee, below the "
            "floor of 15.00 USD/h; raise the rate to at least 18.75 USD."]}
        with_settings(project, hourly_rate=Decimal("18.75"))
        services.transition_project(user=customer, project=project, action="activate")
