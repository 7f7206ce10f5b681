"""The quality part of the demo data: what Acme AI's QA lead has done with the demo work.

Some answers are accepted, which approves them and pays their experts through the ledger;
one contract answer is rejected with a reason its expert reads in their history; the contract
answers are scored on the project's rubric; the rest of the sampled answers wait in the review
queue. Every project gets an agreement report (the contract project's is its written answers'
figures), computed here rather than by a worker, so the first visit finds it done. Decisions
are only taken on work still waiting for one, and a project that has a finished report gets
no other, so a second run changes nothing.
"""

from django.contrib.auth import get_user_model

from accounts.demo import ORG_QA_LEAD, ORGANIZATION, Demo
from tasks.demo import CARDIOLOGY_PROJECT, CONTRACTS_PROJECT, ML_PROJECT
from tasks.models import Annotation, Assignment, Project

from . import jobs, reviews
from .models import AgreementReport, Review

User = get_user_model()

# (project, item external ids whose submitted answers the QA lead accepts)
ACCEPTED = [
    (CARDIOLOGY_PROJECT, ["cardio-01", "cardio-02", "cardio-03"]),
    (ML_PROJECT, ["ml-01", "ml-02", "ml-03", "ml-04"]),
    (CONTRACTS_PROJECT, ["contracts-01", "contracts-04"]),
]
# Rubric scores the QA lead gives with a verdict, by item external id.
RUBRIC_SCORES = {
    "contracts-01": {"accuracy": 5, "plain_english": 4},
    "contracts-04": {"accuracy": 4, "plain_english": 5},
    "contracts-07": {"accuracy": 2, "plain_english": 4},
}
# (project, item external id, the reason the expert reads)
REJECTED = [
    (CONTRACTS_PROJECT, "contracts-07",
     "This describes a scope-of-work clause. An assignment clause says whether a party may "
     "transfer its rights or obligations under the contract to someone else; buyers of a "
     "company check it because a ban on assignment, or a change-of-control trigger, can let "
     "key customers walk away after the sale. Please answer that question."),
]


def work(demo: Demo) -> None:
    qa_lead = User.objects.get(username=ORG_QA_LEAD)
    projects = {project.name: project
                for project in Project.objects.filter(organization__name=ORGANIZATION)}
    for name, external_ids in ACCEPTED:
        for annotation in waiting(projects[name], external_ids):
            reviews.review_annotation(annotation_id=annotation.pk, reviewer=qa_lead,
                                      verdict=Review.Verdict.ACCEPT,
                                      rubric=scores(annotation, projects[name]))
    for name, external_id, reason in REJECTED:
        for annotation in waiting(projects[name], [external_id]):
            reviews.review_annotation(annotation_id=annotation.pk, reviewer=qa_lead,
                                      verdict=Review.Verdict.REJECT, comment=reason,
                                      rubric=scores(annotation, projects[name]))
    for project in projects.values():
        agreement_report(project, qa_lead)


def scores(annotation: Annotation, project: Project) -> dict | None:
    """The demo's rubric scores for an answer, where its project has the rubric."""
    if not project.rubric:
        return None
    return RUBRIC_SCORES.get(annotation.item.external_id)


def waiting(project: Project, external_ids: list[str]) -> list[Annotation]:
    """Submitted answers on these items that nobody has decided on yet."""
    return list(Annotation.objects.filter(
        project=project, item__external_id__in=external_ids,
        assignment__status=Assignment.Status.SUBMITTED).order_by("pk"))


def agreement_report(project: Project, user) -> None:
    """A finished report of the project, built now by the job a worker would run."""
    if project.agreement_reports.filter(status=AgreementReport.Status.DONE).exists():
        return
    report = AgreementReport.objects.create(project=project, requested_by=user)
    jobs.build_agreement_report(report.pk)
