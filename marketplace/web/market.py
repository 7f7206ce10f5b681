"""Open projects, invitations and applications, for experts.

The listing is the marketplace's (``discovery.listed_projects``): the projects routing would
give the expert work from, or would once the customer lets them in. A project that is not
listed to the expert does not exist here either, so applying to it answers 404.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from config.money import after_fee
from config.workspace import Audience, MenuEntry, page, perform, render
from tasks.estimates import Estimate, estimates_of, pay_line
from tasks.models import Project

from .. import discovery, services
from ..models import Application, ProjectInvitation

PER_PAGE = 20
PREVIEW_CHARACTERS = 280


class ApplyForm(forms.Form):
    message = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional: what you bring to this project (the customer reads it).")


def preview(text: str) -> str:
    """The instructions' opening, cut at a word, as the API's summary cuts them."""
    text = " ".join(text.split())
    if len(text) <= PREVIEW_CHARACTERS:
        return text
    return text[:PREVIEW_CHARACTERS - 1].rsplit(" ", 1)[0] + "…"


def card(project: Project, estimate: Estimate) -> dict:
    """What an expert weighs before working on a project, its time and hourly pay with it."""
    access = ("allowed" if project.is_allowed else "invited" if project.is_invited
              else "applied" if project.has_applied else "open")
    kinds = sorted({question["kind"].replace("_", " ") for question in project.questions})
    return {"project": project, "access": access, "kinds": kinds,
            "earns": after_fee(project.price_per_item), "preview": preview(project.instructions),
            "bonus": getattr(project, "quality_bonus_policy", None),
            "pay_line": pay_line(project, estimate),
            "estimate_source": estimate.words if estimate.seconds else ""}


@page(Audience.EXPERT)
def market(request: HttpRequest) -> HttpResponse:
    listed = discovery.listed_projects(request.user.expert_profile)
    projects = Paginator(listed, PER_PAGE).get_page(request.GET.get("page"))
    estimate = estimates_of(projects.object_list)
    invitations = (ProjectInvitation.objects.filter(expert=request.user)
                   .select_related("project__organization", "project__domain")
                   .order_by("-created_at", "-id"))
    applications = (Application.objects.filter(expert=request.user)
                    .select_related("project").order_by("-created_at", "-id"))
    return render(request, "marketplace/web/market.html", {
        "page_obj": projects,
        "cards": [card(project, estimate[project.pk]) for project in projects.object_list],
        "form": ApplyForm(),
        "invitations": invitations,
        "applications": applications,
    }, title="Projects for you")


@require_POST
@page(Audience.EXPERT)
def apply(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(discovery.listed_projects(request.user.expert_profile), pk=pk)
    form = ApplyForm(request.POST)
    if form.is_valid():
        perform(request, services.apply_to_project, project=project, expert=request.user,
                message=form.cleaned_data["message"],
                success=f"You applied to {project.name}; the customer decides.")
    else:
        for error in form.errors["message"]:
            messages.error(request, f"Message: {error}")
    return redirect("workspace:market")


@require_POST
@page(Audience.EXPERT)
def respond(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept or decline one of the expert's own invitations; another's answers 404."""
    invitation = get_object_or_404(
        ProjectInvitation.objects.filter(expert=request.user).select_related("project"), pk=pk)
    answer = request.POST.get("answer")
    if answer not in ("accept", "decline"):
        messages.error(request, "Answer: choose accept or decline.")
        return redirect("workspace:market")
    accept = answer == "accept"
    perform(request, services.respond_to_invitation, invitation=invitation,
            expert=request.user, accept=accept,
            success=(f"You joined {invitation.project.name}." if accept
                     else f"You declined the invitation to {invitation.project.name}."))
    return redirect("workspace:market")


urlpatterns = [
    path("market/", market, name="market"),
    path("market/<int:pk>/apply/", apply, name="market-apply"),
    path("market/invitations/<int:pk>/", respond, name="market-invitation"),
]
menu = [
    MenuEntry("Open projects", "workspace:market", Audience.EXPERT,
              "Open projects you qualify for, what each pays you, invitations and your "
              "applications.", order=20),
]
