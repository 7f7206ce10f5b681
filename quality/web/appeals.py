"""Appeals in the workspace: the expert's list of their own appeals (they file them from their
history, beside the rejected answer or the quality action), and the QA lead's desk of the
organization's appeals, pending ones first, those assigned to them first, soonest due first,
each with a form to uphold or deny it with a reason.

Experts read the decider by role; the customer's side reads the expert by the project's
pseudonym. Appeals are loaded through ``of_expert`` and ``visible_to``, so another's appeal
does not exist here; the decision is the service's to allow, and its refusal is shown on
the form.
"""

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path

from accounts import access
from config.ids import parse_id
from config.workspace import FAILED, Audience, MenuEntry, page, perform, render
from tasks.export import expert_pseudonym
from tasks.models import Project

from .. import appeals, history
from ..models import Appeal

PER_PAGE = 25
STATUS_BADGE = {Appeal.Status.PENDING: "warn", Appeal.Status.UPHELD: "ok",
                Appeal.Status.DENIED: "bad"}


class AppealForm(forms.Form):
    reason = forms.CharField(
        label="Your appeal", max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Say why the decision should change; a QA lead other than the first "
                  "decides.")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("uphold", "Uphold"), ("deny", "Deny")])
    reason = forms.CharField(label="Reason for the expert", max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2, "cols": 50}))


def expert_lines(rows) -> list[dict]:
    """Appeals as their expert reads them: status, decision and the decider's role."""
    roles = appeals.decider_roles(rows)
    return [{"appeal": appeal, "badge": STATUS_BADGE[appeal.status],
             "decided_by": roles[appeal.pk]} for appeal in rows]


@page(Audience.EXPERT)
def my_appeals(request: HttpRequest) -> HttpResponse:
    """The expert's appeals, newest first, with the decision and its reason."""
    rows = Paginator(history.appeals_of(request.user), PER_PAGE).get_page(
        request.GET.get("page"))
    return render(request, "quality/web/appeals_mine.html",
                  {"page_obj": rows, "lines": expert_lines(rows.object_list)},
                  title="Your appeals")


def _may_decide(user, appeal: Appeal, reviews_in: dict[int, bool]) -> bool:
    organization_id = appeal.project.organization_id
    if organization_id not in reviews_in:
        reviews_in[organization_id] = access.may(user, access.Action.REVIEW, organization_id)
    return (reviews_in[organization_id] and user.pk != appeal.expert_id
            and not (appeal.assignee_id and appeal.first_decided_by_id == user.pk))


def _desk_line(user, appeal: Appeal, forms_by_id: dict, reviews_in: dict[int, bool]) -> dict:
    pending = appeal.status == Appeal.Status.PENDING
    return {
        "appeal": appeal, "badge": STATUS_BADGE[appeal.status],
        "expert": expert_pseudonym(appeal.project_id, appeal.expert_id),
        "mine": appeal.assignee_id == user.pk,
        "may_decide": pending and _may_decide(user, appeal, reviews_in),
        "form": forms_by_id.get(appeal.pk) or DecisionForm(prefix=f"appeal-{appeal.pk}"),
    }


def _desk(request: HttpRequest, visible, *, project: Project | None = None) -> HttpResponse:
    """The desk over ``visible`` appeals; a decision posts back to the same page, and its
    refusal shows on the appeal's form."""
    forms_by_id: dict[int, DecisionForm] = {}
    if request.method == "POST":
        appeal = get_object_or_404(visible, pk=parse_id(request.POST.get("appeal")) or 0)
        form = DecisionForm(request.POST, prefix=f"appeal-{appeal.pk}")
        forms_by_id[appeal.pk] = form
        if form.is_valid():
            upheld = form.cleaned_data["decision"] == "uphold"
            done = perform(request, appeals.decide_appeal, appeal_id=appeal.pk,
                           by=request.user, upheld=upheld, reason=form.cleaned_data["reason"],
                           form=form, success=f"Appeal {appeal.pk} "
                                              f"{'upheld' if upheld else 'denied'}.")
            if done is not FAILED:
                return redirect(request.path)
    queue = appeals.in_queue_order(
        visible.select_related("project", "annotation__item", "quality_action", "assignee",
                               "first_decided_by", "decided_by"), user=request.user)
    rows = Paginator(queue, PER_PAGE).get_page(request.GET.get("page"))
    reviews_in: dict[int, bool] = {}  # whether the user reviews in each organization
    lines = [_desk_line(request.user, appeal, forms_by_id, reviews_in)
             for appeal in rows.object_list]
    title = f"Appeals on {project.name}" if project else "Appeals"
    return render(request, "quality/web/appeals.html",
                  {"page_obj": rows, "lines": lines, "project": project}, title=title)


@page(Audience.REVIEWER)
def appeal_desk(request: HttpRequest) -> HttpResponse:
    """Appeals of every project the user's organizations own: pending ones first, those
    assigned to the user first, soonest due first; then decided ones with their reasons."""
    return _desk(request, Appeal.objects.visible_to(request.user))


@page()
def project_appeals(request: HttpRequest, project_id: int) -> HttpResponse:
    """One project's appeals, beside its other quality pages; every member reads them, as
    the review queue, and the service decides who may decide."""
    project = get_object_or_404(Project.objects.visible_to(request.user), pk=project_id)
    return _desk(request, project.appeals.all(), project=project)


urlpatterns = [
    path("history/appeals/", my_appeals, name="my-appeals"),
    path("appeals/", appeal_desk, name="appeals"),
    path("projects/<int:project_id>/appeals/", project_appeals, name="project-appeals"),
]
menu = [
    MenuEntry("Appeals", "workspace:appeals", Audience.REVIEWER,
              "Experts' appeals of rejections and quality actions: uphold or deny each with a "
              "reason before its deadline, or it is upheld.", order=25),
]
