"""Every operation of the served OpenAPI schema, fuzzed as each role, answers as documented.

schemathesis derives requests from the schema the server serves at ``/api/schema/`` and sends
them to the WSGI application in-process, as an expert working on a project, the owner of the
customer organization, its QA lead and an operator, and without a token. Each response must
not be a server error, and its status, content type and body must be ones the schema
documents for the operation.

The world they act on is the demo's (an organization with funds, projects with items,
answers, reviews, reports and earnings) plus the objects the demo does not make. Most
requests to a path with ids name those objects, so that they get past the lookup to the code
that validates and acts; the rest use generated ids. Examples are few per operation and role, and
drawn from a fixed seed, so that a run takes a few minutes and a failure comes back the same;
``FUZZ_EXAMPLES`` and ``FUZZ_SEED`` make a deeper or another run by hand.
Every failure is collected with the request that reproduces it, and reported together.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.demo import OPERATOR, ORG_OWNER, ORG_QA_LEAD, ORGANIZATION
from accounts.models import Membership, Organization
from marketplace import services as money_services
from quality import appeals, jobs, reporting, rules
from quality.models import (
    AgreementReport,
    QualificationAttempt,
    QualificationTest,
    QualityAction,
)
from tasks import services as task_services
from tasks import webhooks
from tasks.demo import CARDIOLOGY_PROJECT
from tasks.models import Annotation, Project
from tasks.routing import next_assignment
from tests import factories

pytestmark = pytest.mark.postgres

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Examples per operation and role; FUZZ_EXAMPLES raises it for a deeper run by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
ANONYMOUS_EXAMPLES = 3
# Every run with one seed sends the same examples; FUZZ_SEED draws others.
SEED = int(os.environ.get("FUZZ_SEED", "0"))
PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass
class World:
    """The tokens of the four roles, and the ids of objects each kind of path names."""

    tokens: dict[str, str | None]
    ids: dict[str, list]

    def path_ids(self, path: str) -> Iterator[dict]:
        """Path parameters naming real objects: each parameter is looked up by the collection
        its segment follows (``/projects/{project_pk}/rules/`` names a project)."""
        segments = path.strip("/").split("/")
        names = [(segments[n - 1], PATH_PARAMETER.fullmatch(segment).group(1))
                 for n, segment in enumerate(segments) if PATH_PARAMETER.fullmatch(segment)]
        if not names or not all(self.ids.get(collection) for collection, _ in names):
            return
        for choice in range(max(len(self.ids[collection]) for collection, _ in names)):
            yield {name: self.ids[collection][choice % len(self.ids[collection])]
                   for collection, name in names}


def build_world() -> World:
    """The demo's organization, people and work, and what the demo leaves out: a live
    assignment, a pending report, a comment, a webhook, a rule, a bonus, an invitation, an
    application, a qualification attempt, a payout and an appeal."""
    call_command("seed_demo", "--allow-without-debug", stdout=StringIO())
    operator = factories.User.objects.get(username=OPERATOR)
    owner = factories.User.objects.get(username=ORG_OWNER)
    qa_lead = factories.User.objects.get(username=ORG_QA_LEAD)
    organization = Organization.objects.get(name=ORGANIZATION)
    project = Project.objects.get(organization=organization, name=CARDIOLOGY_PROJECT)
    expert = (Annotation.objects.filter(project=project, assignment__status="approved")
              .order_by("pk").first().expert)
    spare = factories.member(organization)
    newcomer = factories.expert()
    factories.add_items(project, [factories.preference_data(n) for n in range(100, 104)],
                        activate=False)
    live = next_assignment(expert, project).assignment
    annotation = Annotation.objects.filter(project=project).order_by("-pk").first()
    item = live.item if live else annotation.item
    task_services.add_comment(user=owner, item=item, body="Is completion B cut short?")
    pending = reporting.request_report(project, owner)
    done = (AgreementReport.objects.filter(project=project).exclude(pk=pending.pk).first()
            or reporting.request_report(project, owner))
    jobs.build_agreement_report(done.pk)
    hook = webhooks.create_webhook(user=owner, project=project, url="https://example.com/hook",
                                   events=["item.completed"])
    rule = rules.create_rule(user=owner, project=project, metric="gold_accuracy",
                                        comparator="lt", value=Decimal("0.5"), action="flag")
    money_services.grant_bonus(project=project, expert=expert, amount=Decimal("2.00"),
                               reason="Careful rationales", idempotency_key="fuzz-bonus",
                               by=owner)
    private = factories.project(owner, items=3, visibility="private",
                                price_per_item=Decimal("1.00"))
    invitation, _ = money_services.invite_expert(project=private, expert=expert, by=owner)
    application_ = money_services.apply_to_project(project=private, expert=newcomer)
    payout, _ = money_services.request_payout(expert=expert, amount=Decimal("1.00"),
                                              currency="USD", idempotency_key="fuzz-payout")
    batch = project.batches.order_by("pk").first()
    rejected = Annotation.objects.filter(assignment__status="rejected").order_by("pk").first()
    appeal = appeals.file_appeal(expert=rejected.expert, reason="The guideline says A.",
                                 annotation_id=rejected.pk)
    tokens = {"expert": expert, "owner": owner, "qa_lead": qa_lead, "staff": operator}
    return World(
        tokens={**{role: factories.token_for(user) for role, user in tokens.items()},
                "anonymous": None},
        ids={
            "projects": [project.pk, private.pk],
            "assignments": [a for a in [live and live.pk, annotation.assignment_id] if a],
            "annotations": [annotation.pk],
            "items": [item.pk],
            "reports": [pending.pk, done.pk],
            "batches": [batch.pk] if batch else [],
            "webhooks": [hook.pk],
            "rules": [rule.pk],
            "orgs": [organization.pk],
            "members": [Membership.objects.get(user=spare).pk],
            "experts": [expert.pk, newcomer.pk],
            "domains": [project.domain.slug],
            "invitations": [invitation.pk],
            "applications": [application_.pk],
            "payouts": [payout.pk],
            "qualifications": list(QualificationTest.objects.values_list("pk", flat=True)[:1]),
            "qualification-attempts": list(
                QualificationAttempt.objects.values_list("pk", flat=True)[:1]),
            "quality-actions": list(QualityAction.objects.values_list("pk", flat=True)[:1]),
            "appeals": [appeal.pk],
        },
    )


def fuzz(operation, token: str | None, world: World) -> tuple[int, list[str]]:
    """Send the operation's examples with the token; how many were sent, and the failures,
    each with its request."""
    failures: dict[str, str] = {}
    sent = 0
    headers = {"Authorization": f"Token {token}"} if token else {}
    strategies = [operation.as_strategy(GenerationMode.POSITIVE),
                  operation.as_strategy(GenerationMode.NEGATIVE)]
    for ids in world.path_ids(operation.path):
        strategies += [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=ids),
                       operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=ids)]

    # Without a token every operation that authenticates stops at 401: a few examples do.
    @settings(max_examples=EXAMPLES if token else ANONYMOUS_EXAMPLES, database=None,
              deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @seed(SEED)
    @given(case=st.one_of(strategies))
    def send(case):
        nonlocal sent
        sent += 1
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Failure, FailureGroup) as failure:
            failures.setdefault(_kind(failure), _shortened(str(failure)))

    send()
    return sent, list(failures.values())


def _shortened(report: str, limit: int = 4000) -> str:
    """A failure's report, its generated body cut in the middle if it is long; the
    request to reproduce it stays whole up to the limit."""
    return report if len(report) <= limit else f"{report[:limit // 2]} [...] {report[-limit // 2:]}"


def _kind(failure: Failure | FailureGroup) -> str:
    """What makes two failures the same one: their titles without the case's details."""
    return "|".join(sorted({getattr(e, "title", type(e).__name__)
                            for e in getattr(failure, "exceptions", [failure])}))


@pytest.fixture
def world(settings) -> World:
    settings.ALLOWED_HOSTS = ["localhost"]
    return build_world()


def test_every_operation_answers_as_its_schema_says_for_every_role(world):
    # Built here rather than imported, so that its middleware reads the test's settings.
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json",
                                            get_wsgi_application())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 90
    failures = []
    requests = 0
    started = timezone.now()
    for operation in operations:
        for role, token in world.tokens.items():
            sent, found = fuzz(operation, token, world)
            requests += sent
            failures += [f"{role} {operation.label}:\n{failure}" for failure in found]
    print(f"{len(operations)} operations x {len(world.tokens) - 1} roles x up to {EXAMPLES} "
          f"examples (and {ANONYMOUS_EXAMPLES} without a token): {requests} requests in "
          f"{(timezone.now() - started).total_seconds():.0f} s")
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
