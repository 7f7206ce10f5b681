import random
import re
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Expertise, ExpertProfile
from config.exceptions import Conflict
from tasks import services
from tasks.activity import week_start
from tasks.models import Assignment, Item, Project, ProjectExpert
from tasks.routing import next_assignment, reclaim_expired
from tasks.signals import annotation_submitted
from tests import factories
from tests.concurrency import race

pytestmark = pytest.mark.django_db


def lease(user, project=None, seed=0):
    return next_assignment(user, project, rng=random.Random(seed)).assignment


def answer(assignment, choice="A"):
    return services.submit(assignment_id=assignment.pk, user=assignment.expert,
                           answer={"better": choice})


def test_items_closest_to_completion_come_first_and_never_twice(customer):
    project = factories.project(customer, items=3, overlap=2)
    first, second = factories.expert(), factories.expert()
    a1 = lease(first, project)
    a2 = lease(second, project)
    assert a1.item_id == a2.item_id, "the second expert completes the started item"
    answer(a1)
    a3 = lease(first, project)
    assert a3.item_id != a1.item_id


def test_priority_wins_over_completion(customer):
    project = factories.project(customer, items=3, overlap=2)
    Item.objects.filter(external_id="item-2").update(priority=5)
    assert lease(factories.expert(), project).item.external_id == "item-2"


def test_overlap_is_never_exceeded_and_nothing_left_gives_none(customer):
    project = factories.project(customer, items=2, overlap=2)
    experts = [factories.expert() for _ in range(3)]
    leased = [lease(e, project) for e in experts[:2] for _ in range(2)]
    assert Counter(a.item_id for a in leased) == {i: 2 for i in
                                                 project.items.values_list("pk", flat=True)}
    assert lease(experts[2], project) is None


def test_skip_and_expiry_give_the_slot_back(customer):
    project = factories.project(customer, items=1, overlap=1)
    first, second, third = factories.expert(), factories.expert(), factories.expert()
    a = lease(first, project)
    assert lease(second, project) is None
    services.skip(assignment_id=a.pk, user=first, reason="not my field")
    b = lease(second, project)
    assert b is not None and b.item_id == a.item_id
    Assignment.objects.filter(pk=b.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    c = lease(third, project)
    assert c is not None, "an expired lease frees its slot at once"
    assert Assignment.objects.get(pk=b.pk).status == "expired"
    assert Item.objects.get(pk=a.item_id).filled == 1


def test_submit_conflicts_on_expired_submitted_and_skipped(customer):
    project = factories.project(customer, items=3, overlap=1)
    expert = factories.expert()
    a = lease(expert, project)
    answer(a)
    with pytest.raises(Conflict):
        answer(a)
    b = lease(expert, project)
    services.skip(assignment_id=b.pk, user=expert)
    with pytest.raises(Conflict):
        answer(b)
    c = lease(expert, project)
    Assignment.objects.filter(pk=c.pk).update(expires_at=timezone.now())
    with pytest.raises(Conflict):
        answer(c)


def test_lease_cap(customer, settings):
    settings.MAX_ACTIVE_LEASES = 2
    project = factories.project(customer, items=5, overlap=1)
    expert = factories.expert()
    lease(expert, project)
    lease(expert, project)
    with pytest.raises(Conflict):
        lease(expert, project)


def test_gold_is_served_once_per_expert_and_never_fills_slots(customer):
    project = factories.project(customer, items=2, gold=2, overlap=1, gold_rate="1")
    expert = factories.expert()
    served = [lease(expert, project, seed=n) for n in range(4)]
    gold = [a for a in served if a and a.is_gold]
    assert len(gold) == 2 and len({a.item_id for a in gold}) == 2
    assert set(Item.objects.filter(is_gold=True).values_list("filled", flat=True)) == {0}


@pytest.mark.parametrize("change,reason", [
    ({"verification": "pending"}, "pending"),
    ({"status": "suspended", "status_reason": "fraud"}, "suspended"),
])
def test_unverified_or_suspended_experts_get_nothing(customer, change, reason):
    project = factories.project(customer, items=1)
    expert = factories.expert()
    ExpertProfile.objects.filter(user=expert).update(**change)
    expert.refresh_from_db()
    with pytest.raises(PermissionDenied, match=reason):
        lease(expert, project)


def test_eligibility_rules(customer):
    project = factories.project(customer, items=3, min_degree="phd", min_trust="0.6")
    expert = factories.expert(degree="masters")
    with pytest.raises(PermissionDenied, match="PhD"):
        lease(expert, project)
    Project.objects.filter(pk=project.pk).update(visibility="private")
    expert = factories.expert()
    with pytest.raises(ValidationError, match="Unknown project"):
        lease(expert, project)
    ProjectExpert.objects.create(project=project, expert=expert)
    with pytest.raises(PermissionDenied, match="trust"):
        lease(expert, project)
    Expertise.objects.filter(expert__user=expert).update(trust="0.8")
    assert lease(expert, project) is not None
    ProjectExpert.objects.filter(expert=expert).update(access="removed", reason="low accuracy")
    with pytest.raises(PermissionDenied, match="low accuracy"):
        lease(expert, project)


def test_claimed_domains_count_only_where_the_project_allows(customer):
    strict = factories.project(customer, items=1)
    expert = factories.expert(qualified=False)
    with pytest.raises(PermissionDenied, match="qualification"):
        lease(expert, strict)
    lenient = factories.project(customer, items=1, require_qualification=False)
    assert lease(expert, lenient).project_id == lenient.pk


def test_parent_domain_expertise_covers_a_subdomain(customer):
    project = factories.project(customer, items=1)
    assert lease(factories.expert(domains=("medicine",)), project) is not None


def test_a_parent_domain_project_takes_qualified_experts_of_its_subdomains(customer):
    project = factories.project(customer, items=2, overlap=2, domain="medicine")
    cardiologist = factories.expert(domains=("medicine-cardiology",))
    oncologist = factories.expert(domains=("medicine-oncology",))
    assert lease(cardiologist, project).project_id == project.pk
    assert lease(oncologist, project).project_id == project.pk


def test_claimed_subdomains_count_only_where_the_project_allows(customer):
    strict = factories.project(customer, items=1, domain="medicine")
    claimed = factories.expert(domains=("medicine-cardiology",), qualified=False)
    with pytest.raises(PermissionDenied, match="qualification in Medicine or one of its "
                                               "subdomains"):
        lease(claimed, strict)
    lenient = factories.project(customer, items=1, domain="medicine",
                                require_qualification=False)
    assert lease(claimed, lenient).project_id == lenient.pk


def test_siblings_and_other_trees_do_not_count(customer):
    project = factories.project(customer, items=1)
    oncologist = factories.expert(domains=("medicine-oncology",))
    with pytest.raises(PermissionDenied, match="no expertise in Cardiology or Medicine"):
        lease(oncologist, project)
    law = factories.project(customer, items=1, domain="law")
    with pytest.raises(PermissionDenied, match="no expertise in Law or one of its"):
        lease(factories.expert(), law)


def test_a_suspended_subdomain_admits_to_nothing_above_it(customer):
    project = factories.project(customer, items=1, domain="medicine")
    expert = factories.expert(domains=("medicine-cardiology", "law-tax"))
    until = timezone.now() + timedelta(days=2)
    Expertise.objects.filter(expert__user=expert, domain__slug="medicine-cardiology").update(
        suspended_until=until, suspension_reason="gold accuracy below 50%")
    with pytest.raises(PermissionDenied, match=re.escape(
            f"suspended in Cardiology until {until:%Y-%m-%d %H:%M} UTC: gold accuracy below "
            f"50%")):
        lease(expert, project)
    Expertise.objects.filter(expert__user=expert).update(suspended_until=None)
    assert lease(expert, project).project_id == project.pk


def test_a_working_expertise_outweighs_a_suspended_one(customer):
    project = factories.project(customer, items=1, domain="medicine", min_trust="0.6")
    expert = factories.expert(domains=("medicine", "medicine-cardiology"))
    Expertise.objects.filter(expert__user=expert, domain__slug="medicine").update(
        suspended_until=timezone.now() + timedelta(days=2), trust="0.9")
    with pytest.raises(PermissionDenied, match=r"trust in Cardiology is 0\.5000, below"):
        lease(expert, project)
    Expertise.objects.filter(expert__user=expert, domain__slug="medicine-cardiology").update(
        trust="0.7")
    assert lease(expert, project).project_id == project.pk


def test_without_a_project_the_expert_gets_work_from_any_eligible_one(customer):
    factories.project(customer, items=1, domain="law-tax")
    project = factories.project(customer, items=1)
    assert lease(factories.expert()).project_id == project.pk


def test_completion_marks_the_project_completed(customer):
    project = factories.project(customer, items=1, overlap=1)
    answer(lease(factories.expert(), project))
    project.refresh_from_db()
    assert project.status == Project.Status.COMPLETED


def check_invariants(project):
    assert not Item.objects.filter(project=project, filled__gt=F("overlap")).exists()
    for item in Item.objects.filter(project=project, is_gold=False):
        live = item.assignments.filter(status="assigned").count()
        counted = item.assignments.filter(status__in=["submitted", "approved"]).count()
        assert item.filled == live + counted, item
        assert item.annotated == counted, item
    pairs = Counter(Assignment.objects.filter(project=project)
                    .values_list("item_id", "expert_id"))
    assert max(pairs.values()) == 1


@pytest.mark.postgres
def test_concurrent_experts_never_break_the_invariants():
    owner = factories.customer()
    project = factories.project(owner, items=40, gold=5, overlap=3, gold_rate="0.2")
    experts = [factories.expert() for _ in range(10)]

    def work(expert, seed):
        rng = random.Random(seed)
        while True:
            try:
                result = next_assignment(expert, project, rng=rng).assignment
            except PermissionDenied as exc:
                assert "completed" in str(exc)
                return
            if result is None:
                return
            action = rng.random()
            if action < 0.8:
                answer(result, rng.choice("AB"))
            elif action < 0.9:
                services.skip(assignment_id=result.pk, user=expert)
            else:  # abandoned: the lease runs out and another expert takes the slot
                Assignment.objects.filter(pk=result.pk).update(
                    expires_at=timezone.now() - timedelta(seconds=1))

    outcomes = race(*[lambda e=e, n=n: work(e, n) for n, e in enumerate(experts)])
    assert outcomes == [None] * len(experts)
    reclaim_expired(project=project)
    check_invariants(project)
    submitted = Assignment.objects.filter(project=project, status="submitted", is_gold=False)
    assert 100 < submitted.count() <= 40 * 3
    assert Assignment.objects.filter(status="expired").exists()


def test_auto_approval_waits_for_the_delay_and_for_reviews(customer):
    from tasks.jobs import auto_approve

    project = factories.project(customer, items=3, overlap=1, auto_approve_after_s=3600)
    expert = factories.expert()
    first, second, third = (answer(lease(expert, project)) for _ in range(3))
    hour_ago = timezone.now() - timedelta(hours=1, seconds=1)
    Assignment.objects.filter(pk__in=[first.assignment_id, second.assignment_id]).update(
        submitted_at=hour_ago)
    type(first).objects.filter(pk=second.pk).update(held_for_review=True)
    assert auto_approve() == 1
    assert auto_approve() == 0
    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert statuses[first.assignment_id] == "approved"
    assert statuses[second.assignment_id] == "submitted"
    assert statuses[third.assignment_id] == "submitted"


def test_rejecting_work_reopens_a_completed_project_for_another_expert(customer):
    project = factories.project(customer, items=1, overlap=1)
    annotation = answer(lease(factories.expert(), project))
    project.refresh_from_db()
    assert project.status == Project.Status.COMPLETED
    services.reject_assignment(annotation.assignment)
    project.refresh_from_db()
    assert project.status == Project.Status.ACTIVE
    assert lease(factories.expert(), project).item_id == annotation.item_id


@pytest.mark.postgres
def test_experts_finishing_the_last_items_together_complete_the_project():
    owner = factories.customer()
    project = factories.project(owner, items=2, overlap=1)
    experts = [factories.expert(), factories.expert()]
    leases = [lease(expert, project) for expert in experts]
    # Both submissions wait here, inside their transactions, until both have counted their
    # answer: each then checks completion while the other has not committed yet.
    both_counted = threading.Barrier(2, timeout=10)

    def hold(sender, annotation, **kwargs):
        both_counted.wait()

    annotation_submitted.connect(hold, weak=False, dispatch_uid="test.hold")
    try:
        outcomes = race(*[lambda a=a: answer(a) for a in leases])
    finally:
        annotation_submitted.disconnect(dispatch_uid="test.hold")
    assert not [o for o in outcomes if isinstance(o, Exception)]
    project.refresh_from_db()
    assert project.status == Project.Status.COMPLETED


@pytest.mark.postgres
def test_completing_an_item_mid_project_does_not_queue_on_the_completion_lock():
    owner = factories.customer()
    project = factories.project(owner, items=3, overlap=1)
    first = lease(factories.expert(), project)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '2s'")
    holder = psycopg.connect(**{k: v for k, v in connection.get_connection_params().items()
                                if k in {"dbname", "user", "host", "port", "password"}})
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                       [services.COMPLETION_LOCK, project.pk])
        answer(first)
    finally:
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert Item.objects.get(pk=first.item_id).status == "complete"


@pytest.mark.postgres
def test_every_statement_of_a_lease_and_a_submission_is_prepared_once(customer):
    project = factories.project(customer, items=2, overlap=1)
    expert = factories.expert()
    answer(lease(expert, project))
    answer(lease(expert, project))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    for fragment in ("FROM accounts_expertprofile e", "FROM tasks_project p\nJOIN",
                     "WITH picked AS", "FROM tasks_assignment a\nJOIN tasks_item i",
                     "WITH submitted AS", "FROM tasks_project p WHERE p.id = $2",
                     "FROM tasks_item i WHERE i.id = $3",
                     "JOIN tasks_annotation n ON n.item_id = i.id"):
        assert sum(fragment in statement for statement in prepared) == 1, (fragment, prepared)


def test_the_sql_and_queryset_forms_of_eligibility_agree(customer):
    from tasks.routing import eligible_projects, qualifying_projects

    def make(**options):
        return factories.project(customer, items=1, **options).pk

    cardiology, phd, trust, claims = (make(), make(min_degree="phd"), make(min_trust="0.6"),
                                      make(require_qualification=False))
    make(domain="law-tax")
    make(domain="law")
    make(activate=False)
    medicine, medicine_claims, medicine_trust = (
        make(domain="medicine"), make(domain="medicine", require_qualification=False),
        make(domain="medicine", min_trust="0.6"))
    oncology, private, removed = (make(domain="medicine-oncology"), make(visibility="private"),
                                  make())
    suspended = factories.expert(domains=("medicine-cardiology", "medicine-oncology"))
    experts = {
        factories.expert(): {cardiology, phd, claims, medicine, medicine_claims, private},
        factories.expert(degree="masters"): {cardiology, claims, medicine, medicine_claims,
                                             removed},
        factories.expert(qualified=False): {claims, medicine_claims},
        factories.expert(domains=("medicine",)): {cardiology, phd, trust, claims, medicine,
                                                  medicine_claims, medicine_trust, oncology,
                                                  removed},
        factories.expert(domains=("medicine-oncology",), qualified=False): {medicine_claims},
        suspended: {cardiology, phd, claims, medicine, medicine_claims, removed},
    }
    first = next(iter(experts))
    ProjectExpert.objects.create(project_id=private, expert=first)
    ProjectExpert.objects.create(project_id=removed, expert=first, access="removed")
    Expertise.objects.filter(expert__user__in=experts, domain__slug="medicine").update(
        trust="0.9")
    Expertise.objects.filter(expert__user=suspended, domain__slug="medicine-oncology").update(
        trust="0.9", suspended_until=timezone.now() + timedelta(days=1))
    for user, expected in experts.items():
        profile = ExpertProfile.objects.get(user=user)
        from_sql = {p.pk for p in eligible_projects(profile)}
        roster = ProjectExpert.objects.filter(expert=user)
        from_queryset = set(
            qualifying_projects(profile)
            .filter(Q(visibility="public") | Q(pk__in=roster.filter(access="allowed")
                                               .values("project")))
            .exclude(pk__in=roster.filter(access="removed").values("project"))
            .values_list("pk", flat=True))
        assert from_sql == from_queryset == expected, user


def test_an_hourly_project_at_its_weekly_cap_gives_no_more_work_this_week(customer):
    factories.fund(factories.organization_of(customer), "1000.00")
    capped = factories.project(customer, items=3, contract="hourly", hourly_rate="40.00",
                               weekly_cap_hours=Decimal("0.5"))
    other = factories.project(customer, items=2)
    expert = factories.expert()
    worked = lease(expert, capped)
    Assignment.objects.filter(pk=worked.pk).update(active_s=1799)
    assert lease(expert, capped) is not None, "a second short of the cap still leases"
    Assignment.objects.filter(pk=worked.pk).update(active_s=1800)
    result = next_assignment(expert, capped, rng=random.Random(0))
    assert result.assignment is None
    monday = week_start(timezone.now()) + timedelta(days=7)
    assert result.reasons == {capped.pk: (
        f"You have logged 0.5 of this week's 0.5 hours on {capped.name}; the cap resets "
        f"Monday {monday:%Y-%m-%d} 00:00 UTC.")}
    anywhere = next_assignment(expert, rng=random.Random(0))
    assert anywhere.assignment.project_id == other.pk
    assert set(anywhere.reasons) == {capped.pk}
    Assignment.objects.filter(pk=worked.pk).update(
        leased_at=worked.leased_at - timedelta(days=7))
    assert lease(expert, capped) is not None, "last week's time leaves this week's cap open"
