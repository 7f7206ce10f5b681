"""The QA lead's review desk: the projects with work waiting, a project's queue in the API's
order, and one annotation at a time beside the item, the other experts' answers and the gold
answer, to accept, reject with a reason or fix.

Projects and annotations are loaded through the ``visible_to`` QuerySets, so another
organization's answer 404s. Every member of the organization may read the queue, as in the
API; the verdict itself is the review service's to allow (QA leads, owners, admins and
operators), and a refusal is shown on the page with the API's status, 403.
"""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path

from accounts import access
from config.workspace import FAILED, Audience, MenuEntry, page, perform, render
from tasks.export import expert_pseudonym
from tasks.models import Annotation, Assignment, Project
from tasks.web.item_display import shown_fields

from .. import reviews
from ..models import Review
from ..review_queue import next_waiting, reviewable_projects, waiting_reviews
from .answers import answer_lines
from .review_forms import FixForm, VerdictForm

PER_PAGE = 50
Verdict = Review.Verdict
DONE = {Verdict.ACCEPT: "Accepted", Verdict.REJECT: "Rejected", Verdict.FIX: "Fixed"}


@page(Audience.REVIEWER)
def review_index(request: HttpRequest) -> HttpResponse:
    """The projects whose work the user judges, those with the most waiting first."""
    projects = (reviewable_projects(request.user).select_related("organization")
                .order_by("-waiting", "name", "pk"))
    rows = Paginator(projects, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "quality/web/review_index.html", {"page_obj": rows},
                  title="Review")


@page()
def project_queue(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's queue, most important first, as ``GET .../review-queue/`` lists it."""
    project = get_object_or_404(Project.objects.visible_to(request.user)
                                .select_related("organization"), pk=project_id)
    reviews = waiting_reviews(project).select_related("annotation__item",
                                                      "annotation__assignment")
    rows = Paginator(reviews, PER_PAGE).get_page(request.GET.get("page"))
    lines = [{"review": review, "expert": expert_pseudonym(project.pk,
                                                           review.annotation.expert_id)}
             for review in rows.object_list]
    return render(request, "quality/web/review_queue.html", {
        "project": project, "page_obj": rows, "lines": lines,
        "may_review": access.may(request.user, access.Action.REVIEW, project.organization_id),
    }, title=f"Review queue of {project.name}")


def _other_answers(annotation: Annotation, project: Project) -> list[dict]:
    """The other counted answers on the item, by pseudonym, as the API's queue shows them."""
    others = (Annotation.objects.filter(item=annotation.item_id,
                                        assignment__status__in=Assignment.COUNTED)
              .exclude(pk=annotation.pk).select_related("assignment").order_by("pk"))
    return [{"expert": expert_pseudonym(project.pk, other.expert_id),
             "status": other.assignment.get_status_display(),
             "fixed": other.final_answer is not None,
             "answer": answer_lines(project.questions, annotation.item.data,
                                    other.effective_answer)} for other in others]


def _give_verdict(request: HttpRequest, annotation: Annotation, verdict: str,
                  forms: dict) -> bool:
    """Bind the verdict's form (kept in ``forms`` to show its errors) and pass it to the
    review service; whether the service took it."""
    project = annotation.project
    if verdict == Verdict.FIX:
        form = FixForm(request.POST, prefix="fix", questions=project.questions,
                       item=annotation.item, answer=annotation.effective_answer,
                       rubric=project.rubric)
        forms["fix"] = form
        if not form.is_valid():
            return False
        answer = form.answer()
    else:
        form = VerdictForm(request.POST, prefix=verdict, rubric=project.rubric)
        forms[verdict] = form
        if not form.is_valid():
            return False
        answer = None
    done = perform(request, reviews.review_annotation, annotation_id=annotation.pk,
                   reviewer=request.user, verdict=verdict, answer=answer,
                   comment=form.cleaned_data["comment"], rubric=form.rubric_scores(),
                   form=form, success=f"{DONE[verdict]}: {annotation.item.external_id}.")
    return done is not FAILED


@page()
def annotation_review(request: HttpRequest, annotation_id: int) -> HttpResponse:
    """One annotation beside its item, the other experts' answers and the gold answer; its
    verdict goes to the review service, then the next annotation in the queue opens."""
    annotation = get_object_or_404(
        Annotation.objects.visible_to(request.user).select_related(
            "project__organization", "item", "assignment"), pk=annotation_id)
    project, item = annotation.project, annotation.item
    may_review = access.may(request.user, access.Action.REVIEW, project.organization_id)
    waiting = annotation.assignment.status == Assignment.Status.SUBMITTED
    forms: dict = {}
    verdict_error = ""
    if request.method == "POST":
        verdict = request.POST.get("verdict", "")
        if verdict not in Verdict.values:
            verdict_error = "Choose accept, reject or fix."
        elif _give_verdict(request, annotation, verdict, forms):
            following = next_waiting(project, after=annotation.pk)
            if following is None:
                return redirect("workspace:project-review", project_id=project.pk)
            return redirect("workspace:review-annotation", annotation_id=following.annotation_id)
    forms.setdefault("accept", VerdictForm(prefix="accept", rubric=project.rubric))
    forms.setdefault("reject", VerdictForm(prefix="reject", rubric=project.rubric))
    forms.setdefault("fix", FixForm(prefix="fix", questions=project.questions, item=item,
                                    answer=annotation.effective_answer, rubric=project.rubric))
    pending = Review.objects.filter(annotation=annotation, verdict="").first()
    context = {
        "annotation": annotation, "project": project, "item": item,
        "expert": expert_pseudonym(project.pk, annotation.expert_id),
        "fields": shown_fields(project.fields, project.questions, item.data),
        "answer": answer_lines(project.questions, item.data, annotation.answer),
        "fix": (answer_lines(project.questions, item.data, annotation.final_answer)
                if annotation.final_answer is not None else []),
        "gold": answer_lines(project.questions, item.data, item.gold) if item.is_gold else [],
        "others": _other_answers(annotation, project),
        "pending": pending, "waiting": waiting, "may_review": may_review,
        "decisions": (annotation.reviews.exclude(verdict="").select_related("reviewer")
                      .order_by("decided_at", "pk")),
        "queue_size": waiting_reviews(project).count(),
        "forms": forms, "verdict_error": verdict_error,
        "fix_fields": forms["fix"].item_fields(item),
    }
    # A verdict refused for the user's role answers 403, as the API does.
    refused = request.method == "POST" and not may_review
    return render(request, "quality/web/review_annotation.html", context,
                  title=f"Review {item.external_id}", status=403 if refused else 200)


urlpatterns = [
    path("review/", review_index, name="review"),
    path("projects/<int:project_id>/review/", project_queue, name="project-review"),
    path("review/<int:annotation_id>/", annotation_review, name="review-annotation"),
]
menu = [
    MenuEntry("Review", "workspace:review", Audience.REVIEWER,
              "Judge the work waiting on your projects: accept, reject with a reason, or fix.",
              order=20),
]
