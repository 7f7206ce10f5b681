"""Operators watch trust, write qualification tests, tune rules and reverse actions here.

Trust scores, gold results, attempts and reviews are records of what happened: read-only, as
the work records in the tasks admin are. Qualification tests are written here, their schema
normalised and their items checked the way the API checks them; reversing a quality action
goes through the same service a QA lead's request does.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import ask_reason
from config.exceptions import Conflict
from tasks import schema
from tasks.admin import ReadOnlyAdmin

from . import appeals, qualifications, rules
from .models import (
    Appeal,
    QualificationAttempt,
    QualificationItem,
    QualificationTest,
    QualityAction,
    QualityRule,
    Review,
    TrustScore,
)


class ScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return [("domain", "Domain"), ("project", "Project")]

    def queryset(self, request, queryset):
        if self.value() == "domain":
            return queryset.filter(project__isnull=True)
        if self.value() == "project":
            return queryset.filter(domain__isnull=True)
        return queryset


@admin.register(TrustScore)
class TrustScoreAdmin(ReadOnlyAdmin):
    list_display = ["expert", "domain", "project", "mean", "lower", "answers", "updated_at"]
    list_filter = [ScopeFilter, ("domain", admin.RelatedOnlyFieldListFilter),
                   ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["expert__username"]
    list_select_related = ["expert", "domain", "project"]
    raw_id_fields = ["expert", "project"]
    show_full_result_count = False


class QualificationTestForm(forms.ModelForm):
    class Meta:
        model = QualificationTest
        fields = ["domain", "name", "instructions", "fields", "questions", "items_per_attempt",
                  "pass_mark", "time_limit_s", "retry_after_s", "active"]

    def clean(self):
        cleaned = super().clean()
        if "fields" in cleaned and "questions" in cleaned:
            try:
                cleaned["fields"], cleaned["questions"] = schema.build_schema(
                    None, cleaned["fields"], cleaned["questions"])
            except schema.SchemaError as exc:
                raise ValidationError(exc.errors) from exc
        return cleaned


class QualificationItemFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        try:
            fields, questions = schema.build_schema(None, self.instance.fields,
                                                    self.instance.questions)
        except schema.SchemaError:
            return  # the test's own form reports it
        rows = [{"data": form.cleaned_data.get("data"), "gold": form.cleaned_data.get("gold")}
                for form in self.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        problems = qualifications.check_qualification_items(fields, questions, rows)
        if problems:
            raise ValidationError(problems)


class QualificationItemInline(admin.StackedInline):
    model = QualificationItem
    formset = QualificationItemFormSet
    extra = 1
    fields = ["data", "gold"]


@admin.register(QualificationTest)
class QualificationTestAdmin(admin.ModelAdmin):
    form = QualificationTestForm
    list_display = ["name", "domain", "active", "items_per_attempt", "pass_mark", "item_count",
                    "attempt_link", "created_at"]
    list_filter = ["active", ("domain", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "domain__slug"]
    list_select_related = ["domain"]
    autocomplete_fields = ["domain"]
    readonly_fields = ["attempt_link", "created_at"]
    inlines = [QualificationItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(items_n=Count("items", distinct=True))

    @admin.display(description="items", ordering="items_n")
    def item_count(self, obj):
        return obj.items_n

    @admin.display(description="attempts")
    def attempt_link(self, obj):
        if obj.pk is None:
            return "-"
        url = reverse("admin:quality_qualificationattempt_changelist")
        return format_html('<a href="{}?test__id__exact={}">{} attempt(s)</a>', url, obj.pk,
                           obj.attempts.count())


@admin.register(QualificationAttempt)
class QualificationAttemptAdmin(ReadOnlyAdmin):
    list_display = ["id", "test", "expert", "status", "score", "started_at", "submitted_at"]
    list_filter = ["status", "test"]
    search_fields = ["expert__username"]
    list_select_related = ["test", "expert"]
    raw_id_fields = ["expert"]
    show_full_result_count = False


class QualityRuleForm(forms.ModelForm):
    class Meta:
        model = QualityRule
        fields = ["project", "name", "metric", "window", "window_size", "min_evidence",
                  "comparator", "value", "action", "suspend_days", "active"]

    def clean(self):
        cleaned = super().clean()
        if {"metric", "value"} <= set(cleaned):
            rules.check_rule(cleaned)
        return cleaned


@admin.register(QualityRule)
class QualityRuleAdmin(admin.ModelAdmin):
    form = QualityRuleForm
    list_display = ["__str__", "project", "metric", "window", "window_size", "comparator",
                    "value", "action", "active"]
    list_filter = ["active", "metric", "action"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project"]
    raw_id_fields = ["project"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ReversalForm(forms.Form):
    note = forms.CharField(required=False,
                           widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                           help_text="Why the action is reversed; the expert reads it.")


class LiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "In force"), ("reversed", "Reversed")]

    def queryset(self, request, queryset):
        if self.value() in {"live", "reversed"}:
            return queryset.filter(reversed_at__isnull=self.value() == "live")
        return queryset


@admin.register(QualityAction)
class QualityActionAdmin(ReadOnlyAdmin):
    list_display = ["id", "expert", "project", "action", "reason", "created_at", "reversed_at"]
    list_filter = [LiveFilter, "action", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["expert__username", "reason"]
    list_select_related = ["expert", "project"]
    raw_id_fields = ["rule", "project", "expert", "reversed_by"]
    actions = ["reverse_actions"]

    @admin.action(description="Reverse selected actions (with a note)")
    def reverse_actions(self, request, queryset):
        def apply(note: str) -> None:
            done = 0
            for action in queryset:
                try:
                    rules.reverse_action(action_id=action.pk, user=request.user, note=note)
                except Conflict as exc:
                    self.message_user(request, f"Action {action.pk}: {exc.message}",
                                      messages.WARNING)
                else:
                    done += 1
            self.message_user(request, f"Reversed {done} action(s).", messages.SUCCESS)

        return ask_reason(self, request, queryset, "Reverse quality actions", apply,
                          form_class=ReversalForm)


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("pending", "Waiting"), ("decided", "Decided")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(verdict="")
        if self.value() == "decided":
            return queryset.exclude(verdict="")
        return queryset


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["id", "annotation", "project", "reason", "priority", "verdict", "reviewer",
                    "created_at", "decided_at"]
    list_filter = [QueueFilter, "reason", "verdict", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["annotation__expert__username", "comment"]
    list_select_related = ["project", "reviewer"]
    raw_id_fields = ["annotation", "project", "reviewer"]
    show_full_result_count = False


class DecisionForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="The expert and the customer read this reason.")


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    """Appeals as filed and decided; an operator may decide pending ones through the same
    service a QA lead uses, each with the reason the expert reads."""

    list_display = ["id", "expert", "project", "subject", "status", "assignee", "due_at",
                    "decided_by", "automatic", "decided_at"]
    list_filter = ["status", "subject", "automatic",
                   ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["expert__username", "reason", "decision_reason"]
    list_select_related = ["expert", "project", "assignee", "decided_by"]
    raw_id_fields = ["project", "expert", "annotation", "quality_action", "first_decided_by",
                     "assignee", "decided_by"]
    actions = ["uphold_appeals", "deny_appeals"]
    show_full_result_count = False

    def _decide(self, request, queryset, *, upheld: bool):
        verb, done_word = ("Uphold", "Upheld") if upheld else ("Deny", "Denied")

        def apply(reason: str) -> None:
            done = 0
            for appeal in queryset:
                try:
                    appeals.decide_appeal(appeal_id=appeal.pk, by=request.user, upheld=upheld,
                                          reason=reason)
                except (Conflict, PermissionDenied, ValidationError) as exc:
                    message = getattr(exc, "message", None) or "; ".join(
                        getattr(exc, "messages", [str(exc)]))
                    self.message_user(request, f"Appeal {appeal.pk}: {message}",
                                      messages.WARNING)
                else:
                    done += 1
            self.message_user(request, f"{done_word} {done} appeal(s).", messages.SUCCESS)

        return ask_reason(self, request, queryset, f"{verb} appeals", apply,
                          form_class=DecisionForm)

    @admin.action(description="Uphold selected appeals (with a reason)")
    def uphold_appeals(self, request, queryset):
        return self._decide(request, queryset, upheld=True)

    @admin.action(description="Deny selected appeals (with a reason)")
    def deny_appeals(self, request, queryset):
        return self._decide(request, queryset, upheld=False)


# The agreement report pages live in a module of their own.
from . import admin_reports  # noqa: E402, F401
