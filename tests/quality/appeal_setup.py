"""Work to appeal, built through the real services: a funded per-task project of an
organization with two QA leads, answers rejected by the first, appeals filed on them."""

import random
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import Membership
from quality import appeals, reviews
from quality.models import QualityRule
from quality.rules import evaluate_rules
from tasks import services as task_services
from tasks.routing import next_assignment
from tests import factories

PRICE = Decimal("4.00")


@dataclass
class Appeals:
    owner: object
    organization: object
    qa_lead: object
    second_lead: object
    project: object


def organization_with_leads(owner, *, funds: str = "40.00", items: int = 4) -> Appeals:
    """The owner's organization with two QA leads and a funded project paying PRICE."""
    organization = factories.organization_of(owner)
    qa_lead = factories.member(organization, role=Membership.Role.QA_LEAD)
    second_lead = factories.member(organization, role=Membership.Role.QA_LEAD)
    factories.fund(organization, funds)
    project = factories.project(owner, items=items, price_per_item=PRICE, currency="USD")
    return Appeals(owner, organization, qa_lead, second_lead, project)


def work(project, expert):
    assignment = next_assignment(expert, project, rng=random.Random(1)).assignment
    return task_services.submit(assignment_id=assignment.pk, user=expert,
                                answer={"better": "A"})


def rejected(project, expert, reviewer):
    annotation = work(project, expert)
    reviews.review_annotation(annotation_id=annotation.pk, reviewer=reviewer, verdict="reject",
                              comment="Wrong side.")
    return annotation


def appeal_of(annotation, reason: str = "Side A cites the guideline."):
    return appeals.file_appeal(expert=annotation.expert, reason=reason,
                               annotation_id=annotation.pk)


def removal(project, expert):
    """A removal rule's action on the expert, voiding their submitted work."""
    QualityRule.objects.create(project=project, metric="skip_rate", comparator="gte",
                               value="0", action="remove", min_evidence=1)
    return evaluate_rules(project, expert.pk)[0]
