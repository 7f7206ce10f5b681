"""The customer's money: balance, statement, and applications and invitations for projects.

An organization is looked up among ``Organization.objects.visible_to(user)``, so another
organization's pages answer 404. Every member reads the money; deposits are recorded by
operators, who see the form here; owners and admins decide applications and invite experts.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from accounts import access
from accounts.access import Action
from accounts.models import ExpertProfile, Organization
from config.ids import parse_id
from config.money import AmountFormField
from config.workspace import Audience, MenuEntry, page, perform, render
from tasks.models import Project

from .. import discovery, pseudonyms, services, statements
from ..models import Account, Application, Deposit, ProjectInvitation

LINES_PER_PAGE = 50
DECIDED_SHOWN = 20
INVITATIONS_SHOWN = 50


class DepositForm(forms.Form):
    kind = forms.ChoiceField(choices=Deposit.Kind.choices, initial=Deposit.Kind.DEPOSIT)
    amount = AmountFormField(min_value=0)
    currency = forms.RegexField(regex=r"^[A-Z]{3}$", max_length=3, error_messages={
        "invalid": "Three capital letters, such as USD."})
    reference = forms.CharField(max_length=200, help_text=(
        "The payment's own reference (bank transfer id, invoice number): recording it twice "
        "records one deposit."))


class InvitationForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.none())
    expert = forms.CharField(max_length=40, label="Expert's directory id",
                             help_text="The pseudonymous id from the expert directory, "
                                       "such as ex_abcdefghijklm.")
    message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, organization: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = organization.projects.exclude(
            status=Project.Status.ARCHIVED).order_by("name")

    def clean_expert(self):
        expert = discovery.expert_by_pseudonym(self.cleaned_data["expert"])
        if expert is None:
            raise forms.ValidationError("No expert has this directory id.")
        return expert


def visible_organization(request: HttpRequest, organization_id: int) -> Organization:
    return get_object_or_404(Organization.objects.visible_to(request.user), pk=organization_id)


def _choose_organization(request: HttpRequest, url_name: str, title: str) -> HttpResponse:
    """Go straight to the page of the user's one organization, or let them pick one."""
    organizations = Organization.objects.visible_to(request.user)
    if not request.user.is_staff:
        mine = list(organizations)
        if len(mine) == 1:
            return redirect(url_name, organization_id=mine[0].pk)
    listed = Paginator(organizations, LINES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "marketplace/web/organizations.html", {
        "page_obj": listed, "url_name": url_name}, title=title)


@page(Audience.CUSTOMER, Audience.STAFF)
def funding_home(request: HttpRequest) -> HttpResponse:
    return _choose_organization(request, "workspace:funding", "Funding")


@page(Audience.CUSTOMER, Audience.STAFF)
def funding(request: HttpRequest, organization_id: int) -> HttpResponse:
    """Balance and statement; operators also record deposits and refunds here."""
    organization = visible_organization(request, organization_id)
    currencies = sorted(set(Account.objects.filter(organization=organization)
                            .values_list("currency", flat=True)))
    currency = request.GET.get("currency", "")
    if currency not in currencies:
        currency = statements.organization_currency(organization)
    form = None
    if request.user.is_staff:
        form = DepositForm(request.POST or None, initial={"currency": currency})
        if request.method == "POST" and form.is_valid():
            recorded = perform(request, services.record_deposit, organization=organization,
                               by=request.user, form=form, **form.cleaned_data)
            if recorded:
                deposit, created = recorded
                messages.success(request, (
                    f"Recorded the {deposit.get_kind_display().lower()} {deposit.reference} "
                    f"of {deposit.amount} {deposit.currency}." if created else
                    f"The payment {deposit.reference} was already recorded; nothing changed."))
                return redirect("workspace:funding", organization_id=organization.pk)
    lines = Paginator(statements.statement(organization, currency),
                      LINES_PER_PAGE).get_page(request.GET.get("page"))
    for line in lines:
        line.hours = None if line.seconds is None else statements.hours(line.seconds)
    return render(request, "marketplace/web/funding.html", {
        "organization": organization, "currency": currency, "currencies": currencies,
        "balance": statements.organization_balance(organization, currency),
        "page_obj": lines, "form": form,
    }, title=f"Funding of {organization.name}")


@page(Audience.CUSTOMER, Audience.STAFF)
def applications_home(request: HttpRequest) -> HttpResponse:
    return _choose_organization(request, "workspace:applications", "Applications")


@page(Audience.CUSTOMER, Audience.STAFF)
def applications(request: HttpRequest, organization_id: int) -> HttpResponse:
    """Experts' applications to the organization's projects, and its invitations; owners and
    admins decide and invite. Applicants appear as the directory shows them: no names."""
    organization = visible_organization(request, organization_id)
    may_manage = access.may(request.user, Action.MANAGE, organization.pk)
    if request.method == "POST" and not may_manage:
        raise PermissionDenied(access.REFUSALS[Action.MANAGE])
    form = InvitationForm(request.POST or None, organization=organization,
                          initial={"project": request.GET.get("project")})
    if request.method == "POST" and form.is_valid():
        invited = perform(request, services.invite_expert, by=request.user, form=form,
                          success="The expert was invited.", **form.cleaned_data)
        if invited:
            return redirect("workspace:applications", organization_id=organization.pk)
    scope = {"project__organization": organization}
    project_id = parse_id(request.GET.get("project"))
    if project_id is not None:
        scope["project_id"] = project_id
    received = Application.objects.filter(**scope).select_related("project")
    pending = list(received.filter(status=Application.Status.PENDING).order_by("id"))
    decided = list(received.exclude(status=Application.Status.PENDING)
                   .order_by("-decided_at", "-id")[:DECIDED_SHOWN])
    cards = {card.pk: card for card in discovery.cards(ExpertProfile.objects.filter(
        pk__in={application.expert_id for application in pending}))}
    invitations = (ProjectInvitation.objects.filter(**scope).select_related("project")
                   .order_by("-id")[:INVITATIONS_SHOWN])
    return render(request, "marketplace/web/applications.html", {
        "organization": organization, "may_manage": may_manage, "form": form,
        "pending": [(application, pseudonyms.encode(application.expert_id),
                     cards.get(application.expert_id)) for application in pending],
        "decided": [(application, pseudonyms.encode(application.expert_id))
                    for application in decided],
        "invitations": [(invitation, pseudonyms.encode(invitation.expert_id))
                        for invitation in invitations],
        "project_filter": project_id,
        "projects": organization.projects.order_by("name").only("pk", "name"),
    }, title=f"Applications and invitations of {organization.name}")


@require_POST
@page(Audience.CUSTOMER, Audience.STAFF)
def application_decide(request: HttpRequest, application_id: int) -> HttpResponse:
    application = get_object_or_404(Application.objects.filter(
        project__in=Project.objects.visible_to(request.user)).select_related("project"),
        pk=application_id)
    accept = request.POST.get("decision") == "accept"
    perform(request, services.decide_application, application=application, by=request.user,
            accept=accept, success=("Accepted: the expert may now work on "
                                    f"{application.project.name}." if accept
                                    else "The application was declined."))
    return redirect("workspace:applications",
                    organization_id=application.project.organization_id)


urlpatterns = [
    path("funding/", funding_home, name="funding-home"),
    path("organizations/<int:organization_id>/funding/", funding, name="funding"),
    path("applications/", applications_home, name="applications-home"),
    path("organizations/<int:organization_id>/applications/", applications,
         name="applications"),
    path("applications/<int:application_id>/decide/", application_decide,
         name="application-decide"),
]
menu = [
    MenuEntry("Funding", "workspace:funding-home", Audience.CUSTOMER,
              "Your organization's balance and statement, hourly time included, and how to "
              "add funds.", 30),
    MenuEntry("Applications", "workspace:applications-home", Audience.CUSTOMER,
              "Experts who applied to your projects, and the experts you invited.", 40),
]
