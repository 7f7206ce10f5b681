"""Builders for test data that go through the real services, as production code does."""

import itertools
import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from knox.models import AuthToken

from accounts import services as account_services
from accounts.models import Domain, ExpertProfile, Membership

User = get_user_model()
_sequence = itertools.count(1)
PASSWORD = "Correct-Horse-Battery-9"


def token_for(user) -> str:
    return AuthToken.objects.create(user)[1]


def staff_user(username: str | None = None):
    n = next(_sequence)
    return User.objects.create_user(username=username or f"operator{n}",
                                    email=f"operator{n}@example.com", password=PASSWORD,
                                    is_staff=True, is_superuser=True)


def expert(*, domains=("medicine-cardiology",), verified: bool = True, qualified: bool = True,
           degree: str = "phd", username: str | None = None, languages=("en",)):
    n = next(_sequence)
    name = username or f"expert{n}"
    domain_objs = list(Domain.objects.filter(slug__in=domains))
    profile = account_services.signup_expert(
        username=name, email=f"{name}@example.com", password=PASSWORD,
        full_name=f"Dr. Expert {n}", highest_degree=degree, field_of_study="Medicine",
        domains=domain_objs, languages=list(languages))
    operator = User.objects.filter(is_staff=True).first() or staff_user()
    if verified:
        account_services.set_verification(expert=profile, actor=operator,
                                          verification=ExpertProfile.Verification.VERIFIED)
    if qualified:
        for domain in domain_objs:
            account_services.qualify_expertise(expert=profile, domain=domain, score=None,
                                               source="operator")
    return profile.user


def customer(*, organization: str | None = None, username: str | None = None):
    n = next(_sequence)
    name = username or f"customer{n}"
    membership = account_services.signup_customer(
        username=name, email=f"{name}@example.com", password=PASSWORD,
        organization_name=organization or f"Org {n}")
    return membership.user


def member(organization, role: str = Membership.Role.MEMBER, username: str | None = None):
    n = next(_sequence)
    name = username or f"member{n}"
    user = User.objects.create_user(username=name, email=f"{name}@example.com",
                                    password=PASSWORD)
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


def organization_of(user):
    return user.memberships.get().organization


def project(owner, *, preset: str = "preference", domain: str = "medicine-cardiology",
            items: int = 0, gold: int = 0, activate: bool = True, **options):
    from tasks import services as task_services
    from tasks.models import Item

    organization = organization_of(owner)
    created = task_services.create_project(
        user=owner, organization=organization, name=f"Project {next(_sequence)}",
        domain=Domain.objects.get(slug=domain), preset=preset, **options)
    rows = [Item(project=created, external_id=f"item-{n}", data=preference_data(n),
                 overlap=created.overlap) for n in range(items)]
    rows += [Item(project=created, external_id=f"gold-{n}", data=preference_data(n),
                  is_gold=True, gold={"better": "A"}, overlap=created.overlap)
             for n in range(gold)]
    Item.objects.bulk_create(rows)
    if activate and items:
        task_services.transition_project(user=owner, project=created, action="activate")
    created.refresh_from_db()
    return created


def add_items(project, rows: list[dict], *, gold: list[tuple[dict, dict]] = (),
              activate: bool = True):
    """Give a project items with the given data, and gold items as (data, gold answer)
    pairs, then start it; the project, refreshed."""
    from tasks import services as task_services
    from tasks.models import Item

    start = project.items.count()
    Item.objects.bulk_create(
        [Item(project=project, external_id=f"row-{start + n}", data=data,
              overlap=project.overlap) for n, data in enumerate(rows)]
        + [Item(project=project, external_id=f"check-{start + n}", data=data, gold=answer,
                is_gold=True, overlap=project.overlap) for n, (data, answer) in enumerate(gold)])
    if activate and rows:
        task_services.transition_project(user=project.created_by, project=project,
                                         action="activate")
    project.refresh_from_db()
    return project


def preference_data(n: int) -> dict:
    return {"prompt": f"Question {n}?", "completions": [f"Answer A{n}", f"Answer B{n}"]}


def fund(organization, amount="100.00", currency: str = "USD"):
    """Record a customer's payment, as an operator does, so that paid work can be leased."""
    from marketplace import services as money_services

    operator = User.objects.filter(is_staff=True).first() or staff_user()
    deposit, _ = money_services.record_deposit(
        organization=organization, amount=Decimal(amount), currency=currency, by=operator,
        reference=f"wire-{organization.pk}-{next(_sequence)}")
    return deposit


def answered(expert_user, project, answer: dict | None = None):
    """Lease the expert the project's next item and submit an answer; the annotation."""
    from tasks import services as task_services
    from tasks.routing import next_assignment

    assignment = next_assignment(expert_user, project, rng=random.Random(0)).assignment
    task_services.submit(assignment_id=assignment.pk, user=expert_user,
                         answer=answer or {"better": "A"})
    return assignment.annotation


def reviewed(annotation, reviewer, verdict: str, *, comment: str = "", answer=None):
    """A QA lead's verdict on an annotation, through the review service."""
    from quality import reviews

    return reviews.review_annotation(annotation_id=annotation.pk, reviewer=reviewer,
                                     verdict=verdict, comment=comment, answer=answer)


def recorded_answer(project, item, expert_user, value: dict, status: str = "approved"):
    """An expert's answer to a chosen item written straight into the tables, as the work
    loop leaves it (approved by default), for statistics whose input must be exact."""
    from django.utils import timezone

    from tasks.models import Annotation, Assignment

    now = timezone.now()
    assignment = Assignment.objects.create(
        item=item, project=project, expert=expert_user, is_gold=item.is_gold, status=status,
        leased_at=now, expires_at=now + timedelta(hours=1), submitted_at=now)
    return Annotation.objects.create(assignment=assignment, item=item, project=project,
                                     expert=expert_user, answer=value)


def bulk_answered(project, experts: list, items: int, *, seed: int = 0) -> int:
    """Give a PostgreSQL project ``items`` new items each answered and approved by every one
    of the experts, written by the database itself (a report's worth of work in seconds);
    answers to the pairwise question ``better`` agree about two times in three. Answers the
    number of annotations."""
    from django.db import connection

    expert_ids = [expert.pk for expert in experts]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tasks_item (project_id, external_id, data, is_gold, priority, overlap,"
            " filled, annotated, created_at) "
            "SELECT %s, 'bulk-' || n, jsonb_build_object('prompt', 'Question ' || n,"
            " 'completions', jsonb_build_array('A' || n, 'B' || n)), false, 0, %s, %s, %s, now()"
            " FROM generate_series(1, %s) n",
            [project.pk, len(expert_ids), len(expert_ids), len(expert_ids), items])
        cursor.execute(
            "INSERT INTO tasks_assignment (item_id, project_id, expert_id, is_gold, status,"
            " leased_at, expires_at, submitted_at, finished_at, duration_s, skip_reason, price)"
            " SELECT i.id, i.project_id, e, false, 'approved', now(), now() + interval '1 hour',"
            " now(), now(), 30, '', 0 FROM tasks_item i CROSS JOIN unnest(%s::bigint[]) e"
            " WHERE i.project_id = %s AND i.external_id LIKE 'bulk-%%'",
            [expert_ids, project.pk])
        cursor.execute("SELECT setseed(%s)", [seed / 1000])
        cursor.execute(
            "INSERT INTO tasks_annotation (assignment_id, item_id, project_id, expert_id,"
            " answer, created_at) SELECT s.id, s.item_id, s.project_id, s.expert_id,"
            " jsonb_build_object('better', CASE WHEN random() < 0.67 THEN 'A' ELSE 'B' END),"
            " now() FROM tasks_assignment s JOIN tasks_item i ON i.id = s.item_id"
            " WHERE s.project_id = %s AND i.external_id LIKE 'bulk-%%'", [project.pk])
        return cursor.rowcount
