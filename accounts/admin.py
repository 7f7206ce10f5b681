"""Operators verify experts and manage organizations here."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import services
from .evidence import evidence_response
from .models import Credential, Domain, Expertise, ExpertProfile, Membership, Organization, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "is_staff", "is_active", "date_joined"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "member_count"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, obj):
        return obj.memberships.count()


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["slug", "name"]


# Evidence links typed without a scheme are taken as https, as Django 6 will.
EVIDENCE_URL = {models.URLField: {"assume_scheme": "https"}}


@admin.display(description="evidence file")
def evidence_link(credential: Credential) -> str:
    """A link that opens the uploaded evidence through the admin, for operators only: the
    files are private and no public URL serves them."""
    if not credential.pk or not credential.evidence_file:
        return "—"
    url = reverse("admin:accounts_credential_evidence", args=[credential.pk])
    return format_html('<a href="{}" target="_blank" rel="noopener">Open evidence</a>', url)


class CredentialInline(admin.TabularInline):
    model = Credential
    extra = 0
    formfield_overrides = EVIDENCE_URL
    fields = ["degree", "field", "institution", "year", "evidence", evidence_link, "status",
              "reviewer_notes", "reviewed_by", "reviewed_at"]
    readonly_fields = [evidence_link, "reviewed_by", "reviewed_at"]


class ExpertiseInline(admin.TabularInline):
    model = Expertise
    extra = 0
    fields = ["domain", "level", "qualification_score", "source", "qualified_at",
              "suspended_until", "suspension_reason"]
    autocomplete_fields = ["domain"]


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="The expert reads this reason.")


def ask_reason(modeladmin, request, queryset, title: str, apply,
               form_class: type[forms.Form] = ReasonForm) -> TemplateResponse | None:
    """An admin action that needs a reason shows a form first, then calls `apply` with the
    form's cleaned fields as keyword arguments."""
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            apply(**form.cleaned_data)
            return None
    else:
        form = form_class()
    return TemplateResponse(request, "admin/reason_action.html", {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": request.POST["action"],
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
    })


class DomainFilter(admin.SimpleListFilter):
    title = "domain"
    parameter_name = "domain"

    def lookups(self, request, model_admin):
        return [(d.slug, d.name) for d in Domain.objects.all()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(expertise__domain__slug=self.value()).distinct()
        return queryset


@admin.register(ExpertProfile)
class ExpertProfileAdmin(admin.ModelAdmin):
    list_display = ["full_name", "username", "highest_degree", "field_of_study",
                    "verification", "status", "verified_at"]
    list_filter = ["verification", "status", "highest_degree", DomainFilter]
    search_fields = ["full_name", "user__username", "user__email", "field_of_study"]
    readonly_fields = ["verified_by", "verified_at", "created_at"]
    inlines = [ExpertiseInline, CredentialInline]
    actions = ["verify", "reject", "suspend", "reinstate"]
    list_select_related = ["user"]

    @admin.display(ordering="user__username")
    def username(self, obj):
        return obj.user.username

    @admin.action(description="Verify selected experts")
    def verify(self, request, queryset):
        for expert in queryset:
            services.set_verification(expert=expert, actor=request.user,
                                      verification=ExpertProfile.Verification.VERIFIED)
        self.message_user(request, f"Verified {queryset.count()} expert(s).", messages.SUCCESS)

    @admin.action(description="Reject selected experts (with a reason)")
    def reject(self, request, queryset):
        def apply(reason: str) -> None:
            for expert in queryset:
                services.set_verification(expert=expert, actor=request.user, reason=reason,
                                          verification=ExpertProfile.Verification.REJECTED)
            self.message_user(request, f"Rejected {queryset.count()} expert(s).",
                              messages.SUCCESS)

        return ask_reason(self, request, queryset, "Reject experts", apply)

    @admin.action(description="Suspend selected experts (with a reason)")
    def suspend(self, request, queryset):
        def apply(reason: str) -> None:
            for expert in queryset:
                services.set_expert_status(expert=expert, actor=request.user, reason=reason,
                                           status=ExpertProfile.Status.SUSPENDED)
            self.message_user(request, f"Suspended {queryset.count()} expert(s).",
                              messages.SUCCESS)

        return ask_reason(self, request, queryset, "Suspend experts", apply)

    @admin.action(description="Reinstate selected experts")
    def reinstate(self, request, queryset):
        for expert in queryset:
            services.set_expert_status(expert=expert, actor=request.user,
                                       status=ExpertProfile.Status.ACTIVE)
        self.message_user(request, f"Reinstated {queryset.count()} expert(s).",
                          messages.SUCCESS)


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    formfield_overrides = EVIDENCE_URL
    list_display = ["expert", "degree", "institution", "year", evidence_link, "status"]
    list_filter = ["status", "degree"]
    search_fields = ["expert__full_name", "institution"]
    list_select_related = ["expert"]
    exclude = ["evidence_file"]
    readonly_fields = [evidence_link, "reviewed_by", "reviewed_at"]
    actions = ["accept", "reject"]

    def get_urls(self):
        evidence = path("<int:pk>/evidence/", self.admin_site.admin_view(self.evidence_view),
                        name="accounts_credential_evidence")
        return [evidence, *super().get_urls()]

    def evidence_view(self, request, pk: int) -> FileResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return evidence_response(get_object_or_404(Credential, pk=pk))

    @admin.action(description="Accept selected credentials")
    def accept(self, request, queryset):
        for credential in queryset:
            services.review_credential(credential=credential, actor=request.user,
                                       status=Credential.Status.VERIFIED)
        self.message_user(request, f"Accepted {queryset.count()} credential(s).",
                          messages.SUCCESS)

    @admin.action(description="Reject selected credentials (with a reason)")
    def reject(self, request, queryset):
        def apply(reason: str) -> None:
            for credential in queryset:
                services.review_credential(credential=credential, actor=request.user,
                                           status=Credential.Status.REJECTED, notes=reason)
            self.message_user(request, f"Rejected {queryset.count()} credential(s).",
                              messages.SUCCESS)

        return ask_reason(self, request, queryset, "Reject credentials", apply)
