"""The expert's own history: each answer's review outcome and pay, one answer read back
beside the reviewer's fix, and the quality actions taken on the expert with their reasons."""

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path

from config.workspace import Audience, MenuEntry, page, render
from tasks.models import Assignment, Project
from tasks.schema import model_fields

from .. import history
from .answers import answer_lines, item_fields

PER_PAGE = 25


class HistoryFilter(forms.Form):
    project = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False,
                               choices=[("", "Any status"), *Assignment.Status.choices])

    def __init__(self, *args, expert, **kwargs):
        super().__init__(*args, **kwargs)
        mine = Project.objects.filter(assignments__expert=expert.pk).distinct().order_by("name")
        self.fields["project"].choices = [("", "Every project"),
                                          *mine.values_list("id", "name")]


@page(Audience.EXPERT)
def history_list(request: HttpRequest) -> HttpResponse:
    """Newest first; each row says what a reviewer decided and why, and what it paid."""
    filters = HistoryFilter(request.GET or None, expert=request.user)
    assignments = history.assignments_of(request.user)
    if filters.is_valid():
        if filters.cleaned_data["project"]:
            assignments = assignments.filter(project_id=filters.cleaned_data["project"])
        if filters.cleaned_data["status"]:
            assignments = assignments.filter(status=filters.cleaned_data["status"])
    rows = Paginator(assignments, PER_PAGE).get_page(request.GET.get("page"))
    outcomes = history.outcomes(rows.object_list)
    paid = history.pay(request.user, rows.object_list)
    lines = [{"assignment": a, "outcome": outcomes[a.pk], "paid": paid.get(a.pk)}
             for a in rows.object_list]
    return render(request, "quality/web/history.html",
                  {"filters": filters, "page_obj": rows, "lines": lines},
                  title="Your history")


@page(Audience.EXPERT)
def history_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the expert's own assignments read back: the item, their answer and, when a
    reviewer fixed it, the fix beside it. Another expert's assignment answers 404."""
    assignment = get_object_or_404(
        Assignment.objects.held_by(request.user).select_related("project", "item")
        .defer("item__gold"), pk=pk)
    project, item = assignment.project, assignment.item
    record = history.record_of(assignment)
    answer = record.annotation.answer if record.annotation else None
    fix = record.annotation.final_answer if record.annotation else None
    context = {
        "assignment": assignment,
        "record": record,
        # Which model wrote what stays hidden here too, or later comparisons are not blind.
        "fields": item_fields([f for f in project.fields
                               if f["name"] not in model_fields(project.questions)], item.data),
        "answer": answer_lines(project.questions, item.data, answer) if answer else [],
        "fix": answer_lines(project.questions, item.data, fix) if fix is not None else [],
        "paid": history.pay(request.user, [assignment]).get(assignment.pk),
    }
    return render(request, "quality/web/history_detail.html", context,
                  title=f"{item.external_id} in {project.name}")


@page(Audience.EXPERT)
def quality_actions(request: HttpRequest) -> HttpResponse:
    """What quality rules or QA leads did about the expert's work, why, and what was undone."""
    actions = Paginator(history.actions_of(request.user), PER_PAGE).get_page(
        request.GET.get("page"))
    return render(request, "quality/web/history_actions.html", {"page_obj": actions},
                  title="Quality actions on your work")


urlpatterns = [
    path("history/", history_list, name="history"),
    path("history/<int:pk>/", history_detail, name="history-detail"),
    path("history/actions/", quality_actions, name="history-actions"),
]
menu = [
    MenuEntry("History", "workspace:history", Audience.EXPERT,
              "Your answers, what reviewers decided and why, what each paid, and quality "
              "actions on your work.", order=40),
]
