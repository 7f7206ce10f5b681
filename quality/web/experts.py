"""A project's experts with their quality figures, flags and the undo of actions.

Each row carries the figures of ``GET /api/v1/projects/{id}/experts/`` (read through the
same function), with the expert named by the project's pseudonym, and under it the quality
actions taken on that expert with their reasons. Every member reads the page; undoing an
action is the quality service's to allow (QA leads, owners, admins and operators).
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from accounts import access
from config.workspace import page, perform, render
from tasks.models import Project

from .. import metrics, rules
from ..models import QualityAction

PER_PAGE = 50


class UndoForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, strip=True,
                           label="Why it is undone",
                           widget=forms.TextInput(attrs={"placeholder": "Why it is undone"}))


@page()
def project_experts(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.visible_to(request.user)
                                .select_related("organization"), pk=project_id)
    experts = Paginator(metrics.experts_on(project).order_by("expert_id"), PER_PAGE).get_page(
        request.GET.get("page"))
    ids = [row["expert_id"] for row in experts.object_list]
    actions: dict[int, list[QualityAction]] = {pk: [] for pk in ids}
    for action in (QualityAction.objects.filter(project=project, expert_id__in=ids)
                   .select_related("rule", "reversed_by")):
        actions[action.expert_id].append(action)
    rows = [{**row, "actions": actions[row["expert_id"]],
             "dawid_skene": {question: {**fit, "rows": list(zip(fit["labels"], fit["confusion"],
                                                                 strict=True))}
                             for question, fit in row["dawid_skene"].items()}}
            for row in metrics.expert_rows(project, ids)]
    return render(request, "quality/web/experts.html", {
        "project": project, "page_obj": experts, "rows": rows, "undo_form": UndoForm(),
        "report_id": rows[0]["report"] if rows else None,
        "may_review": access.may(request.user, access.Action.REVIEW, project.organization_id),
    }, title=f"Experts of {project.name}")


@page()
@require_POST
def undo_action(request: HttpRequest, project_id: int, action_id: int) -> HttpResponse:
    """Reverse a quality action with a note; a refusal comes back as a message."""
    action = get_object_or_404(QualityAction.objects.visible_to(request.user),
                               pk=action_id, project_id=project_id)
    form = UndoForm(request.POST)
    if not form.is_valid():
        for error in form.errors["note"]:
            messages.error(request, f"Why it is undone: {error}")
        return redirect("workspace:project-experts", project_id=project_id)
    reversed_ = perform(request, rules.reverse_action, action_id=action.pk,
                        user=request.user, note=form.cleaned_data["note"])
    if reversed_:
        messages.success(request, f"Undone. {reversed_.details['reversal']}")
    return redirect("workspace:project-experts", project_id=project_id)


urlpatterns = [
    path("projects/<int:project_id>/experts/", project_experts, name="project-experts"),
    path("projects/<int:project_id>/experts/actions/<int:action_id>/undo/", undo_action,
         name="project-expert-undo"),
]
menu: list = []
