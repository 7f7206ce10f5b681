"""The expert's earnings, statement and payout requests.

A payout form carries an idempotency key made when the form is drawn: posting the same form
twice (a double click, a reload after a lost answer) hands the service the same key, and the
service returns the first payout instead of taking the amount again.
"""

import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse

from config import csvcells
from config.money import AmountFormField, after_fee
from config.workspace import FAILED, Audience, MenuEntry, page, perform, render

from .. import services, statements
from ..models import Account

LINES_PER_PAGE = 50
REJECTED_SHOWN = 20
HOURLY_SHOWN = 20


class PayoutForm(forms.Form):
    amount = AmountFormField(min_value=0, label="Amount")
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=200)
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}\Z", widget=forms.HiddenInput,
                                error_messages={"invalid": "Currency: use a three-letter code."})

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()


def currency_of(request: HttpRequest) -> str:
    """The currency asked for, if the expert holds an account in it, else their only one
    (or the platform's default)."""
    asked = request.GET.get("currency", "").upper()
    if asked and Account.objects.filter(expert=request.user, currency=asked).exists():
        return asked
    return statements.expert_currency(request.user)


def fresh_form(currency: str) -> PayoutForm:
    return PayoutForm(initial={"idempotency_key": uuid.uuid4().hex, "currency": currency})


@page(Audience.EXPERT)
def earnings(request: HttpRequest) -> HttpResponse:
    currency = currency_of(request)
    form = fresh_form(currency)
    if request.method == "POST":
        form = PayoutForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            result = perform(request, services.request_payout, form=form, expert=request.user,
                             amount=data["amount"], currency=data["currency"],
                             idempotency_key=data["idempotency_key"])
            if result is not FAILED:
                payout, created = result
                messages.success(request, (
                    f"Payout {payout.pk} of {payout.amount} {payout.currency} requested; it "
                    f"is paid with the next payout run." if created else
                    f"Payout {payout.pk} of {payout.amount} {payout.currency} was already "
                    f"requested by this form; nothing more was taken."))
                return redirect(f"{reverse('workspace:earnings')}?currency={payout.currency}")
        currency = form.cleaned_data.get("currency", currency)
    summary = statements.earnings(request.user, currency)
    lines = Paginator(summary["entries"], LINES_PER_PAGE).get_page(request.GET.get("page"))
    rejected = [{"assignment": assignment, "would_have_paid": after_fee(assignment.price)}
                for assignment in summary["rejected"][:REJECTED_SHOWN]]
    hours = statements.hours
    pending = [{"entry": entry, "hours": hours(entry.seconds),
                "expert_receives": after_fee(entry.amount)}
               for entry in summary["pending"][:HOURLY_SHOWN]]
    weekly_payments = [{"payment": payment, "hours": hours(payment.seconds)}
                       for payment in summary["weekly_payments"][:HOURLY_SHOWN]]
    withheld = [{"entry": entry, "hours": hours(entry.seconds)}
                for entry in summary["withheld"][:HOURLY_SHOWN]]
    return render(request, "marketplace/web/earnings.html", {
        "summary": summary,
        "form": form,
        "page_obj": lines,
        "rejected": rejected,
        "pending": pending,
        "weekly_payments": weekly_payments,
        "withheld": withheld,
        "minimum": settings.PAYOUT_MINIMUM,
        "appeal_window_days": settings.APPEAL_WINDOW_DAYS,
        "currencies": sorted(set(Account.objects.filter(expert=request.user)
                                 .values_list("currency", flat=True))),
    }, title="Your earnings")


@page(Audience.EXPERT)
def statement_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every line of the statement, for a spreadsheet (cells made inert for it)."""
    currency = currency_of(request)
    response = StreamingHttpResponse(
        csvcells.lines(statements.EARNINGS_CSV_HEADER,
                       statements.earnings_csv_rows(request.user, currency)),
        content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="earnings-{currency}.csv"'
    return response


urlpatterns = [
    path("earnings/", earnings, name="earnings"),
    path("earnings/statement.csv", statement_csv, name="earnings-csv"),
]
menu = [
    MenuEntry("Earnings", "workspace:earnings", Audience.EXPERT,
              "Your balance, hours and hourly rate, every line of your statement, and "
              "payouts.", order=50),
]
