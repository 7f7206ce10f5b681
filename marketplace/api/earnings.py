"""The expert's money: earnings and payouts. Only experts have them; anyone else gets 403."""

import hashlib
import json

from django.db import transaction
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.access import require_expert
from config.exceptions import Conflict
from config.headers import idempotency_key
from config.negotiation import ErrorsAsJSON
from config.renderers import JSONRenderer

from .. import services, statements
from ..models import IdempotentResponse, Payout
from . import serializers as s
from .money import CSV_FORMAT, csv_download, currency_for

LATEST_ENTRIES = 100
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="A retry with the same key answers the first payout: same status code, same "
                "body. The same key with another amount is a 409.")
CURRENCY = OpenApiParameter("currency", str, description="ISO 4217 code; defaults to your "
                                                         "only currency, else USD.")


NOT_AN_EXPERT = "Only experts have earnings and payouts."
EXPERTS_ONLY = extend_schema(responses={403: OpenApiResponse(description=NOT_AN_EXPERT)})


class EarningsView(generics.GenericAPIView):
    serializer_class = s.EarningsSerializer
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ErrorsAsJSON
    pagination_class = None

    @extend_schema(parameters=[CURRENCY, CSV_FORMAT],
                   responses={200: s.EarningsSerializer,
                              (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
                              403: OpenApiResponse(description="Not an expert.")})
    def get(self, request):
        """Your balance and where it came from: per project with your hours and effective
        hourly rate, bonuses, weekly payments of hourly time and the time awaiting one or
        withheld, payouts, rejected work, and the latest ledger lines (`?format=csv` for all
        of them)."""
        require_expert(request.user, message=NOT_AN_EXPERT)
        currency = currency_for(request, lambda: statements.expert_currency(request.user))
        if request.query_params.get("format") == "csv":
            header = ["id", "created_at", "kind", "memo", "project", "project_name", "amount",
                      "currency"]
            entries = statements.earnings_entries(request.user, currency)
            rows = ([entry.pk, entry.transaction.created_at.isoformat(), entry.transaction.kind,
                     entry.transaction.memo, entry.transaction.project_id,
                     entry.transaction.project.name if entry.transaction.project else "",
                     entry.amount, entry.currency] for entry in entries.iterator(chunk_size=2000))
            return csv_download(f"earnings-{currency}.csv", header, rows)
        earnings = statements.earnings(request.user, currency)
        for listed in ("entries", "rejected", "weekly_payments", "pending", "withheld"):
            earnings[listed] = earnings[listed][:LATEST_ENTRIES]
        return Response(s.EarningsSerializer(earnings).data)


@extend_schema_view(list=EXPERTS_ONLY, retrieve=EXPERTS_ONLY)
class PayoutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your payouts, newest first: requested -> processing -> paid | failed."""

    serializer_class = s.PayoutSerializer
    lookup_value_regex = r"[0-9]+"
    scope = "payouts"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Payout.objects.none()
        require_expert(self.request.user, message=NOT_AN_EXPERT)
        return Payout.objects.of_expert(self.request.user)

    @extend_schema(
        request=s.PayoutRequestSerializer, parameters=[IDEMPOTENCY_KEY],
        responses={201: s.PayoutSerializer,
                   400: OpenApiResponse(description="Below the minimum or above your "
                                                    "balance."),
                   403: OpenApiResponse(description="Not an expert."),
                   409: OpenApiResponse(description="The key was used for another payout.")})
    def create(self, request):
        """Withdraw from your balance: the amount leaves `balance` at once and is paid by
        the next payout run."""
        require_expert(request.user, message=NOT_AN_EXPERT)
        body = s.PayoutRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        amount = body.validated_data["amount"]
        currency = (body.validated_data.get("currency")
                    or statements.expert_currency(request.user))
        key = idempotency_key(request, max_length=200)
        fingerprint = hashlib.sha256(f"{amount}|{currency}".encode()).hexdigest()
        with transaction.atomic():
            if key and (first := self._first(key)) is not None:
                return self._replay(first, fingerprint)
            payout, created = services.request_payout(expert=request.user, amount=amount,
                                                      currency=currency, idempotency_key=key)
            if not created and (first := self._first(key)) is not None:
                return self._replay(first, fingerprint)  # a concurrent retry answered first
            data = s.PayoutSerializer(payout).data
            if key:
                IdempotentResponse.objects.create(
                    user=request.user, scope=self.scope, key=key, fingerprint=fingerprint,
                    status_code=status.HTTP_201_CREATED, body=json.dumps(data))
        return Response(data, status=status.HTTP_201_CREATED)

    def _first(self, key: str) -> IdempotentResponse | None:
        return IdempotentResponse.objects.filter(user=self.request.user, scope=self.scope,
                                                 key=key).first()

    @staticmethod
    def _replay(first: IdempotentResponse, fingerprint: str) -> Response:
        if first.fingerprint != fingerprint:
            raise Conflict("This Idempotency-Key was used for a different payout.",
                           code="idempotency_key_reused")
        return Response(json.loads(first.body), status=first.status_code)


router = SimpleRouter()
router.register("me/payouts", PayoutViewSet, basename="payout")

urlpatterns = [
    *router.urls,
    path("me/earnings/", EarningsView.as_view(), name="earnings"),
]
