"""Operators watch projects and work here.

Pages must stay fast on projects with a hundred thousand items: counts come from the item
counters or from one correlated subquery per listed row, never from a query per cell; foreign
keys are raw ids or autocompletes instead of drop-downs of every row; and filtered lists skip
the second full count. State changes go through the services, so records of work (assignments,
annotations, batches, deliveries) are read-only here.
"""

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, F, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from config.exceptions import Conflict

from . import services
from .models import (
    Annotation,
    Assignment,
    Batch,
    Item,
    Project,
    ProjectExpert,
    Webhook,
    WebhookDelivery,
)


def count_of(queryset, field: str = "project") -> Coalesce:
    """Rows of `queryset` that point at the outer row through `field`, as one subquery."""
    return Coalesce(Subquery(queryset.filter(**{field: OuterRef("pk")}).order_by()
                             .values(field).annotate(n=Count("pk")).values("n"),
                             output_field=IntegerField()), 0)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown for inspection; the services own every change to these rows."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RosterInline(admin.TabularInline):
    model = ProjectExpert
    extra = 0
    fields = ["expert", "access", "review_all", "reason", "updated_at"]
    readonly_fields = ["updated_at"]
    raw_id_fields = ["expert"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "domain", "status", "item_count", "complete_count",
                    "annotation_count", "created_at"]
    list_filter = ["status", ("organization", admin.RelatedOnlyFieldListFilter),
                   ("domain", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "organization__name"]
    list_select_related = ["organization", "domain"]
    readonly_fields = ["item_count", "complete_count", "annotation_count"]
    inlines = [RosterInline]
    actions = ["activate", "pause"]

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        # Settings change through the API, whose service keeps items in step and refuses to
        # alter what started work depends on; operators manage the roster and the status.
        return [field.name for field in Project._meta.fields] + self.readonly_fields

    def get_queryset(self, request):
        items = Item.objects.filter(is_gold=False)
        return super().get_queryset(request).annotate(
            items_n=count_of(items),
            complete_n=count_of(items.filter(annotated__gte=F("overlap"))),
            annotations_n=count_of(Annotation.objects.all()),
        )

    @admin.display(description="items", ordering="items_n")
    def item_count(self, obj):
        return obj.items_n

    @admin.display(description="complete", ordering="complete_n")
    def complete_count(self, obj):
        return obj.complete_n

    @admin.display(description="annotations", ordering="annotations_n")
    def annotation_count(self, obj):
        return obj.annotations_n

    def _transition(self, request, queryset, action: str) -> None:
        done = 0
        for project in queryset:
            try:
                services.transition_project(user=request.user, project=project, action=action)
            except Conflict as exc:
                self.message_user(request, f"{project}: {exc.message}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, f"{action.capitalize()}d {done} project(s).",
                          messages.SUCCESS)

    @admin.action(description="Activate selected projects")
    def activate(self, request, queryset):
        self._transition(request, queryset, "activate")

    @admin.action(description="Pause selected projects")
    def pause(self, request, queryset):
        self._transition(request, queryset, "pause")


class ItemStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("in_progress", "In progress"), ("complete", "Complete")]

    def queryset(self, request, queryset):
        if self.value() in {"open", "in_progress", "complete"}:
            return queryset.filter(Item.status_condition(self.value()))
        return queryset


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "external_id", "project", "is_gold", "status", "overlap", "filled",
                    "annotated", "priority", "created_at"]
    list_filter = ["is_gold", ItemStatusFilter, "project"]
    search_fields = ["=external_id"]
    list_select_related = ["project"]
    fields = ["project", "batch", "external_id", "status", "data", "is_gold", "gold", "priority",
              "overlap", "filled", "annotated", "created_at"]
    # Only the priority is safe to edit: the rest is what answers were given to, and the
    # counters are kept under row locks by the services.
    readonly_fields = [name for name in fields if name != "priority"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "expert", "project", "item", "status", "is_gold", "leased_at",
                    "expires_at", "submitted_at", "active_s", "duration_s"]
    list_filter = ["status", "is_gold", "project__contract", "project"]
    search_fields = ["expert__username"]
    list_select_related = ["expert", "project", "item"]
    raw_id_fields = ["item", "project", "expert"]
    show_full_result_count = False


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["id", "expert", "project", "item", "created_at"]
    list_filter = ["project"]
    search_fields = ["expert__username"]
    list_select_related = ["expert", "project", "item"]
    raw_id_fields = ["assignment", "item", "project", "expert"]
    show_full_result_count = False


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "status", "file_format", "rows", "created", "existing",
                    "error_count", "created_at", "finished_at"]
    list_filter = ["status", "file_format"]
    search_fields = ["filename", "project__name"]
    list_select_related = ["project"]
    raw_id_fields = ["project", "created_by"]

    @admin.display(description="errors")
    def error_count(self, obj):
        return len(obj.errors)


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = ["url", "project", "events", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "project__name"]
    list_select_related = ["project"]
    # The signing secret is the customer's; operators never need to read it.
    exclude = ["secret"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    raw_id_fields = ["project"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "webhook", "event", "status", "attempts", "response_status",
                    "next_attempt_at", "delivered_at"]
    list_filter = ["status", "event"]
    list_select_related = ["webhook"]
    raw_id_fields = ["webhook"]
    show_full_result_count = False
