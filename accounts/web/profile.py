"""The expert's own profile: details, credentials with evidence, domains.

One page shows everything; each of its three forms posts to its own address and, when the
service refuses, the page comes back with that form's errors and the others untouched.
Verification and status are shown, never editable here: they are an operator's decisions.
"""

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.workspace import FAILED, Audience, MenuEntry, page, perform, render

from .. import services
from ..evidence import evidence_response
from ..models import Credential, ExpertProfile
from .forms import ClaimDomainsForm, CredentialForm, ProfileForm


def own_profile(request: HttpRequest) -> ExpertProfile:
    return ExpertProfile.objects.select_related("user").get(user=request.user)


def profile_page(request: HttpRequest, profile: ExpertProfile, *, details=None,
                 credential=None, claim=None) -> HttpResponse:
    expertise = list(profile.expertise.select_related("domain__parent"))
    claimed = {e.domain_id for e in expertise}
    editable = ProfileForm.base_fields
    return render(request, "accounts/web/profile.html", {
        "profile": profile,
        "details": details or ProfileForm(initial={
            name: getattr(profile, name) for name in editable}),
        "credential_form": credential or CredentialForm(),
        "claim_form": claim or ClaimDomainsForm(claimed=claimed),
        "credentials": profile.credentials.all(),
        "expertise": expertise,
        "now": timezone.now(),
    }, title="Your profile")


@page(Audience.EXPERT)
def profile(request: HttpRequest) -> HttpResponse:
    expert = own_profile(request)
    if request.method != "POST":
        return profile_page(request, expert)
    form = ProfileForm(request.POST)
    if form.is_valid() and perform(request, services.update_expert_profile, expert,
                                   form=form, success="Your profile is saved.",
                                   **form.cleaned_data) is not FAILED:
        return redirect("workspace:profile")
    expert.refresh_from_db()
    return profile_page(request, expert, details=form)


@page(Audience.EXPERT)
@require_POST
def add_credential(request: HttpRequest) -> HttpResponse:
    expert = own_profile(request)
    form = CredentialForm(request.POST, request.FILES)
    if form.is_valid() and perform(
            request, services.add_credential, expert, form=form,
            success="Credential added; an operator will review its evidence.",
            **form.cleaned_data) is not FAILED:
        return redirect("workspace:profile")
    return profile_page(request, expert, credential=form)


@page(Audience.EXPERT)
@require_POST
def claim_domains(request: HttpRequest) -> HttpResponse:
    expert = own_profile(request)
    claimed = set(expert.expertise.values_list("domain_id", flat=True))
    form = ClaimDomainsForm(request.POST, claimed=claimed)
    if form.is_valid() and perform(
            request, services.claim_domains, expert, form.cleaned_data["domains"],
            source="profile", form=form,
            success="Domains added as claims; a qualification test in each qualifies you.",
    ) is not FAILED:
        return redirect("workspace:profile")
    return profile_page(request, expert, claim=form)


@page(Audience.EXPERT)
def credential_evidence(request: HttpRequest, pk: int) -> FileResponse:
    """The expert opens the evidence they uploaded; anyone else's answers 404."""
    return evidence_response(get_object_or_404(Credential, pk=pk, expert__user=request.user))


urlpatterns = [
    path("profile/", profile, name="profile"),
    path("profile/credentials/", add_credential, name="profile-credential-add"),
    path("profile/credentials/<int:pk>/evidence/", credential_evidence,
         name="profile-credential-evidence"),
    path("profile/domains/", claim_domains, name="profile-domains"),
]
menu = [
    MenuEntry("Profile", "workspace:profile", Audience.EXPERT,
              "Your details, credentials and domains; your verification.", order=90),
]
