"""The periodic jobs every app declares (durable.schedules)."""

from django_q.models import Schedule

from durable.schedules import declared, ensure_schedules


def test_every_apps_schedules_are_created_once_whatever_the_number_of_runs(db):
    Schedule.objects.all().delete()
    ensure_schedules()
    ensure_schedules()
    names = list(Schedule.objects.values_list("name", flat=True))
    assert sorted(names) == sorted(func for func, _ in declared())
    assert {"durable.sweeper.sweep", "tasks.jobs.expire_leases",
            "quality.jobs.evaluate_rules", "marketplace.jobs.process_payouts"} <= set(names)
    sweeper = Schedule.objects.get(name="durable.sweeper.sweep")
    assert (sweeper.func, sweeper.minutes, sweeper.repeats) == ("durable.sweeper.sweep", 1, -1)
