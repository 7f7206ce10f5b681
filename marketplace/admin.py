"""Finance operators' console: accounts with their balances, the ledger (read-only: money
moves only through the services), payouts to settle by hand, and the reconciliation page."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin import ask_reason
from config.exceptions import Conflict
from tasks.admin import ReadOnlyAdmin

from . import ledger, services
from .models import (
    Account,
    Application,
    Bonus,
    Deposit,
    Entry,
    Payout,
    ProjectInvitation,
    QualityBonusPolicy,
    Transaction,
)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "owner", "currency", "balance", "computed_balance"]
    list_filter = ["kind", "currency"]
    search_fields = ["organization__name", "expert__username", "expert__email"]
    list_select_related = ["organization", "expert"]
    change_list_template = "admin/marketplace/account/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(computed=Coalesce(
            Sum("entries__amount"), Value(0),
            output_field=DecimalField(max_digits=14, decimal_places=2)))

    @admin.display(description="owner")
    def owner(self, obj):
        return obj.organization or obj.expert or "platform"

    @admin.display(description="computed from entries", ordering="computed")
    def computed_balance(self, obj):
        return ledger.money(obj.computed)

    def get_urls(self):
        return [path("reconciliation/", self.admin_site.admin_view(self.reconciliation),
                     name="marketplace_reconciliation"), *super().get_urls()]

    def reconciliation(self, request):
        """Every entry per currency sums to zero, cached balances equal computed ones, and
        no transaction is unbalanced."""
        return TemplateResponse(request, "admin/marketplace/reconciliation.html", {
            **self.admin_site.each_context(request), "title": "Ledger reconciliation",
            "opts": self.model._meta, **ledger.reconcile()})


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ["account", "amount", "currency"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__organization",
                                                            "account__expert")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "memo", "project", "assignment", "payout"]
    list_filter = ["kind"]
    search_fields = ["idempotency_key", "memo"]
    list_select_related = ["project", "assignment", "payout"]
    inlines = [EntryInline]
    date_hierarchy = "created_at"


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ["id", "expert", "amount", "currency", "status", "requested_at",
                    "processing_at", "settled_at", "reference"]
    list_filter = ["status", "currency", "provider"]
    search_fields = ["expert__username", "expert__email", "reference", "batch"]
    list_select_related = ["expert"]
    actions = ["mark_paid", "mark_failed"]

    def has_change_permission(self, request, obj=None):
        # Settling needs it; every field stays read-only.
        return admin.ModelAdmin.has_change_permission(self, request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def _settle(self, request, queryset, *, paid: bool, reason: str = "") -> None:
        done, refused = 0, []
        for payout in queryset:
            try:
                services.settle_payout(payout=payout, paid=paid, reason=reason, by=request.user)
            except (Conflict, ValidationError) as exc:
                refused.append(f"{payout.pk}: {getattr(exc, 'message', exc)}")
                continue
            done += 1
        self.message_user(request, f"{'Paid' if paid else 'Failed'} {done} payout(s).",
                          messages.SUCCESS)
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), messages.ERROR)

    @admin.action(description="Mark selected payouts paid (transferred outside the provider)",
                  permissions=["change"])
    def mark_paid(self, request, queryset):
        self._settle(request, queryset, paid=True)

    @admin.action(description="Mark selected payouts failed (the money returns to the expert)",
                  permissions=["change"])
    def mark_failed(self, request, queryset):
        return ask_reason(self, request, queryset, "Mark payouts failed", lambda reason:
                          self._settle(request, queryset, paid=False, reason=reason))


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ["id", "organization", "kind", "amount", "currency", "reference",
                    "created_by", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["organization__name", "reference"]
    list_select_related = ["organization", "created_by"]


@admin.register(Bonus)
class BonusAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "expert", "kind", "amount", "currency", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["project", "expert"]


@admin.register(QualityBonusPolicy)
class QualityBonusPolicyAdmin(ReadOnlyAdmin):
    list_display = ["project", "rate", "min_trust", "updated_at"]
    list_select_related = ["project"]


@admin.register(ProjectInvitation)
class ProjectInvitationAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "expert", "status", "created_at", "responded_at"]
    list_filter = ["status"]
    list_select_related = ["project", "expert"]


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "expert", "status", "created_at", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["project", "expert"]
