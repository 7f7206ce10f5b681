"""Trust bookkeeping: gold scores folded into an expert's trust on a project and a domain."""

from decimal import Decimal

import pytest

from accounts.models import Expertise
from quality import gold, trust
from quality.models import TrustScore
from tests import factories

pytestmark = pytest.mark.django_db


class TestTrust:
    def test_rows_start_at_the_prior_and_fold_scores_in(self, expert, customer):
        project = factories.project(customer, items=1)
        row = gold._fold_trust(expert.pk, [1.0, 0.5], project_id=project.pk)
        expected = trust.from_scores([1.0, 0.5])
        assert (row.alpha, row.beta, row.answers) == (expected.alpha, expected.beta, 2)
        row = gold._fold_trust(expert.pk, [0.0], project_id=project.pk)
        expected = trust.from_scores([1.0, 0.5, 0.0])
        assert (row.mean, row.lower, row.answers) == (expected.mean, expected.lower, 3)
        assert TrustScore.objects.count() == 1

    def test_domain_trust_reaches_the_expertise_rounded(self, expert, customer):
        project = factories.project(customer, items=1)
        gold.fold_domain_trust(expert.pk, project.domain_id, [1.0])
        expertise = Expertise.objects.get(expert_id=expert.pk, domain=project.domain)
        assert expertise.trust == Decimal("0.6000")
