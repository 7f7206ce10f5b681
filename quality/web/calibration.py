"""A project's calibration in the workspace: what it does in plain words, its numbers, and
switching it on or off.

Every member of the customer's organization reads the page; QA leads, owners and admins
change it (``quality.calibration`` asks ``accounts.access``, and a refusal comes back as a
message). Projects of other organizations do not exist here (404).
"""

from decimal import Decimal

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from accounts import access
from config.workspace import FAILED, page, perform, render
from tasks.models import Project

from .. import calibration


class CalibrationForm(forms.Form):
    gold_first = forms.IntegerField(
        min_value=1, max_value=50, label="Gold items first",
        help_text="A new expert answers this many gold items before anything else.")
    gold_rate = forms.DecimalField(
        min_value=Decimal("0.001"), max_value=1, max_digits=4, decimal_places=3,
        label="Gold rate after that",
        help_text="The hidden share of gold among later items: 0.10 is one item in ten.")
    min_lower_bound = forms.DecimalField(
        min_value=0, max_value=1, max_digits=3, decimal_places=2, label="Lowest accuracy",
        help_text="An expert whose gold accuracy's lower bound (the 5% quantile, which a few "
                  "lucky answers cannot lift) falls under this is removed from the project.")
    min_gold = forms.IntegerField(
        min_value=1, label="Gold answers before judging",
        help_text="No expert is removed before giving this many gold answers.")


def _project(request: HttpRequest, project_id: int) -> Project:
    return get_object_or_404(Project.objects.visible_to(request.user)
                             .select_related("organization"), pk=project_id)


@page()
def project_calibration(request: HttpRequest, project_id: int) -> HttpResponse:
    """Show the calibration; a POST saves the numbers and switches it on."""
    project = _project(request, project_id)
    current = calibration.calibration_of(project)
    form = CalibrationForm(request.POST or None, initial={
        "gold_first": current.gold_first, "gold_rate": current.gold_rate,
        "min_lower_bound": current.min_lower_bound, "min_gold": current.min_gold})
    if request.method == "POST" and form.is_valid():
        saved = perform(request, calibration.set_calibration, project=project, by=request.user,
                        form=form, success="Calibration is on with these numbers.",
                        **form.cleaned_data)
        if saved is not FAILED:
            return redirect("workspace:project-calibration", project_id=project.pk)
    return render(request, "quality/web/calibration.html", {
        "project": project, "calibration": current, "form": form,
        "gold_items": project.items.filter(is_gold=True).count(),
        "may_review": access.may(request.user, access.Action.REVIEW, project.organization_id),
    }, title=f"Calibration of {project.name}")


@page()
@require_POST
def switch_off(request: HttpRequest, project_id: int) -> HttpResponse:
    perform(request, calibration.clear_calibration, project=_project(request, project_id),
            by=request.user, success="Calibration is off. Removals already made stand until "
                                     "a QA lead reverses them.")
    return redirect("workspace:project-calibration", project_id=project_id)


urlpatterns = [
    path("projects/<int:project_id>/calibration/", project_calibration,
         name="project-calibration"),
    path("projects/<int:project_id>/calibration/off/", switch_off,
         name="project-calibration-off"),
]
menu: list = []
