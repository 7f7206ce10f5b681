"""Gold answers and trust: scoring an answer on a gold item, and folding scores into trust.

Trust is a Beta-binomial posterior (quality.trust) with the prior Beta(2, 2): an expert
nobody has checked stands at 0.5, the same value `accounts.Expertise.trust` starts from, and
about twenty gold answers outweigh the prior, while two lucky ones only reach 0.67. Every
scored gold answer (and every item of a qualification test) folds its score into the
expert's trust on the project and in the project's domain; the domain mean is copied to the
expert's Expertise row so that routing's `min_trust` floor reads it without a join.
"""

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction

from accounts.models import Expertise
from tasks.models import Annotation, Item, Project

from . import trust
from .models import GoldResult, TrustScore
from .scoring import score_against_gold


def _fold_trust(expert_id: int, scores: Sequence[float], *, project_id: int | None = None,
                domain_id: int | None = None) -> TrustScore:
    """Add scores to one TrustScore under its row lock, creating it at the prior."""
    scope = {"project_id": project_id, "domain_id": domain_id}
    prior = trust.PRIOR
    TrustScore.objects.bulk_create(
        [TrustScore(expert_id=expert_id, alpha=prior.alpha, beta=prior.beta, mean=prior.mean,
                    lower=prior.lower, **scope)],
        ignore_conflicts=True)
    row = TrustScore.objects.select_for_update().get(expert_id=expert_id, **scope)
    posterior = trust.Trust(row.alpha, row.beta, row.answers, row.mean, row.lower)
    for score in scores:
        posterior = trust.update(posterior, score)
    row.alpha, row.beta = posterior.alpha, posterior.beta
    row.mean, row.lower = posterior.mean, posterior.lower
    row.answers += len(scores)
    row.save(update_fields=["alpha", "beta", "mean", "lower", "answers", "updated_at"])
    return row


def fold_domain_trust(expert_id: int, domain_id: int, scores: Sequence[float]) -> TrustScore:
    """Domain trust, copied to the expert's Expertise in that domain when they have one (a
    claim is not created here: trust alone does not make anyone an expert in a domain)."""
    row = _fold_trust(expert_id, scores, domain_id=domain_id)
    Expertise.objects.filter(expert_id=expert_id, domain_id=domain_id).update(
        trust=Decimal(f"{row.mean:.4f}"))
    return row

@transaction.atomic(savepoint=False)
def score_gold(annotation: Annotation, project: Project) -> GoldResult | None:
    """Score an answer on a gold item and fold it into the expert's trust."""
    gold = Item.objects.values_list("gold", flat=True).get(pk=annotation.item_id)
    score, per_question = score_against_gold(project.questions, annotation.answer, gold)
    if score is None:
        return None
    result = GoldResult.objects.create(annotation=annotation, project=project,
                                       expert_id=annotation.expert_id, score=score,
                                       per_question=per_question)
    _fold_trust(annotation.expert_id, [score], project_id=project.pk)
    fold_domain_trust(annotation.expert_id, project.domain_id, [score])
    return result

