"""Finance operators' console: accounts with their balances, the ledger (read-only: money
moves only through the services), payouts to settle by hand, hourly time to withhold as fraud
or pay now, and the reconciliation page."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import DecimalField, Max, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.views.decorators.http import require_POST

from accounts.admin import ask_reason
from config.exceptions import Conflict
from tasks.admin import ReadOnlyAdmin

from . import hourly, ledger, services, statements
from .models import (
    Account,
    Application,
    Bonus,
    Deposit,
    Entry,
    Payout,
    ProjectInvitation,
    QualityBonusPolicy,
    TimeEntry,
    Transaction,
    WeeklyPayment,
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


class SettledByActionsAdmin(ReadOnlyAdmin):
    """Read-only rows that actions change through the services: the change permission is
    what Django asks of actions, and every field stays read-only."""

    def has_change_permission(self, request, obj=None):
        return admin.ModelAdmin.has_change_permission(self, request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(TimeEntry)
class TimeEntryAdmin(SettledByActionsAdmin):
    """Decided hourly time: payable until the weekly payment pays it, unless an operator
    withholds it as fraud first (a person decides, with a reason the expert reads)."""

    list_display = ["id", "week", "project", "expert", "assignment", "hours", "rate", "amount",
                    "currency", "status", "payment", "withheld_reason"]
    list_filter = ["status", "week", "currency", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["expert__username", "expert__email", "project__name", "withheld_reason"]
    list_select_related = ["project", "expert", "payment"]
    date_hierarchy = "week"
    actions = ["withhold_as_fraud"]
    change_list_template = "admin/marketplace/timeentry/change_list.html"

    @admin.display(description="hours", ordering="seconds")
    def hours(self, obj: TimeEntry):
        return statements.hours(obj.seconds)

    def get_urls(self):
        return [path("pay-now/", self.admin_site.admin_view(require_POST(self.pay_now)),
                     name="marketplace_timeentry_pay_now"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {
            **(extra_context or {}), "may_pay": self.has_change_permission(request)})

    @admin.action(description="Withhold as fraud (the expert is not paid; the cost returns "
                              "to the customer)", permissions=["change"])
    def withhold_as_fraud(self, request, queryset):
        return ask_reason(self, request, queryset, "Withhold time as fraud", lambda reason:
                          self._withhold(request, queryset, reason))

    def _withhold(self, request, queryset, reason: str) -> None:
        done, refused = 0, []
        for entry in queryset.select_related("assignment"):
            try:
                hourly.withhold_time(assignment=entry.assignment, reason=reason, by=request.user)
            except (Conflict, ValidationError) as exc:
                refused.append(f"{entry.pk}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
                continue
            done += 1
        self.message_user(request, f"Withheld {done} time entr{'y' if done == 1 else 'ies'}.",
                          messages.SUCCESS)
        if refused:
            self.message_user(request, "Refused: " + "; ".join(refused), messages.ERROR)

    def pay_now(self, request):
        """Run the weekly payment at once instead of waiting for its schedule: it pays the
        decided time of every finished week; the current week's is paid after it ends."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        made = hourly.pay_weekly()
        self.message_user(request, f"Made {made} weekly payment(s) of decided time from "
                                   "finished weeks; this week's time is paid after Monday "
                                   "00:00 UTC.", messages.SUCCESS)
        return redirect("admin:marketplace_timeentry_changelist")


class PaidTimeInline(admin.TabularInline):
    model = TimeEntry
    fk_name = "payment"
    fields = ["assignment", "seconds", "rate", "amount", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WeeklyPayment)
class WeeklyPaymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "week", "project", "expert", "hours", "rate", "amount", "fee", "net",
                    "currency", "created_at"]
    list_filter = ["week", "currency", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["expert__username", "expert__email", "project__name"]
    list_select_related = ["project", "expert"]
    date_hierarchy = "week"
    inlines = [PaidTimeInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rate=Max("entries__rate"))

    @admin.display(description="hours", ordering="seconds")
    def hours(self, obj: WeeklyPayment):
        return statements.hours(obj.seconds)

    @admin.display(description="hourly rate", ordering="rate")
    def rate(self, obj: WeeklyPayment):
        return obj.rate
