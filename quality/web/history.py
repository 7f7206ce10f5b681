"""The expert's own history: each answer's review outcome and pay, one answer read back
beside the reviewer's fix, and the quality actions taken on the expert with their reasons."""

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path

from config.ids import parse_id
from config.workspace import FAILED, Audience, MenuEntry, page, perform, render
from tasks.models import Assignment, Project
from tasks.schema import model_fields

from .. import appeals, history
from ..models import QualityAction
from .answers import answer_lines, item_fields
from .appeals import AppealForm, expert_lines

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
    appealed = history.appeals_on(request.user, annotation_ids=[
        annotation.pk for a in rows.object_list
        if (annotation := history.annotation_of(a)) is not None])
    lines = [{"assignment": a, "outcome": outcomes[a.pk], "paid": paid.get(a.pk),
              "appeal": appealed.get(("annotation", getattr(history.annotation_of(a), "pk",
                                                            None))),
              "appealable": (a.status == Assignment.Status.REJECTED
                             and appeals.open_for_appeal(a.finished_at))}
             for a in rows.object_list]
    return render(request, "quality/web/history.html",
                  {"filters": filters, "page_obj": rows, "lines": lines},
                  title="Your history")


def _appeal_form(request: HttpRequest, *, prefix: str | None = None,
                 **target: int) -> tuple[AppealForm, bool]:
    """The appeal form, bound when this request posts it; ``(form, filed)``."""
    if request.method == "POST" and all(
            parse_id(request.POST.get(name)) == value for name, value in target.items()):
        form = AppealForm(request.POST, prefix=prefix)
        if form.is_valid():
            done = perform(request, appeals.file_appeal, expert=request.user,
                           reason=form.cleaned_data["reason"], form=form,
                           success="Your appeal was filed; a QA lead other than the first "
                                   "will decide it.",
                           **{f"{name}_id": value for name, value in target.items()})
            return form, done is not FAILED
        return form, False
    return AppealForm(prefix=prefix), False


@page(Audience.EXPERT)
def history_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the expert's own assignments read back: the item, their answer and, when a
    reviewer fixed it, the fix beside it; a rejection may be appealed here, once, within the
    appeal window. Another expert's assignment answers 404."""
    assignment = get_object_or_404(
        Assignment.objects.held_by(request.user).select_related("project", "item")
        .defer("item__gold"), pk=pk)
    project, item = assignment.project, assignment.item
    record = history.record_of(assignment)
    answer = record.annotation.answer if record.annotation else None
    fix = record.annotation.final_answer if record.annotation else None
    appeal = (history.appeals_on(request.user, annotation_ids=[record.annotation.pk])
              .get(("annotation", record.annotation.pk)) if record.annotation else None)
    appeal_form = None
    if (appeal is None and assignment.status == Assignment.Status.REJECTED
            and appeals.open_for_appeal(assignment.finished_at)):
        appeal_form, filed = _appeal_form(request, annotation=record.annotation.pk)
        if filed:
            return redirect("workspace:history-detail", pk=assignment.pk)
    context = {
        "assignment": assignment,
        "record": record,
        # Which model wrote what stays hidden here too, or later comparisons are not blind.
        "fields": item_fields([f for f in project.fields
                               if f["name"] not in model_fields(project.questions)], item.data),
        "answer": answer_lines(project.questions, item.data, answer) if answer else [],
        "fix": answer_lines(project.questions, item.data, fix) if fix is not None else [],
        "paid": history.pay(request.user, [assignment]).get(assignment.pk),
        "appeal_line": expert_lines([appeal])[0] if appeal else None,
        "appeal_form": appeal_form,
        "appeal_until": appeals.appealable_until(assignment.finished_at),
    }
    return render(request, "quality/web/history_detail.html", context,
                  title=f"{item.external_id} in {project.name}")


def _action_line(request: HttpRequest, action: QualityAction,
                 appeal_line: dict | None) -> tuple[dict, bool]:
    line = {"action": action, "appeal_line": appeal_line,
            "form": None, "until": appeals.appealable_until(action.created_at)}
    if appeal_line is None and action.active and appeals.open_for_appeal(action.created_at):
        line["form"], filed = _appeal_form(request, prefix=f"action-{action.pk}",
                                           quality_action=action.pk)
        return line, filed
    return line, False


@page(Audience.EXPERT)
def quality_actions(request: HttpRequest) -> HttpResponse:
    """What quality rules or QA leads did about the expert's work, why, and what was undone;
    an action in force may be appealed here, once, within the appeal window."""
    if request.method == "POST" and not QualityAction.objects.of_expert(request.user).filter(
            pk=parse_id(request.POST.get("quality_action")) or 0).exists():
        return redirect("workspace:history-actions")
    actions = Paginator(history.actions_of(request.user), PER_PAGE).get_page(
        request.GET.get("page"))
    appealed = history.appeals_on(request.user,
                                  action_ids=[a.pk for a in actions.object_list])
    appeal_lines = {line["appeal"].quality_action_id: line
                    for line in expert_lines(list(appealed.values()))}
    lines = []
    for action in actions.object_list:
        line, filed = _action_line(request, action, appeal_lines.get(action.pk))
        if filed:
            return redirect("workspace:history-actions")
        lines.append(line)
    return render(request, "quality/web/history_actions.html",
                  {"page_obj": actions, "lines": lines},
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
