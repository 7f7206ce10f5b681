"""The customer's money: deposits and refunds (recorded by operators), balance, statement,
a project's funding, bonuses and the quality bonus policy.

Organizations and projects are looked up among those the user may see first, so another
organization's answer 404 whatever the request; then roles decide (staff record payments,
owners and admins pay bonuses) with 403.
"""

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from accounts.access import Action, require
from accounts.models import Organization
from config import csvcells
from config.negotiation import ErrorsAsJSON
from config.renderers import JSONRenderer
from tasks.models import Project

from .. import services, statements
from ..ledger import money
from ..models import Bonus, Deposit, QualityBonusPolicy
from . import serializers as s

CURRENCY = OpenApiParameter("currency", str, description="ISO 4217 code; defaults to the "
                                                         "organization's only currency, else USD.")
CSV_FORMAT = OpenApiParameter("format", str, enum=["json", "csv"], default="json",
                              description="`csv` downloads every line as a file.")
STAFF_ONLY = OpenApiResponse(description="Only platform operators record payments.")
MANAGERS_ONLY = OpenApiResponse(description="Only the organization's owners and admins.")
FUNDS_SHORT = OpenApiResponse(description="The organization's available funds cannot pay "
                                          "it; deposit first.")
KEY_REUSED = OpenApiResponse(description="The reference or key was used with other figures.")


def organization_for(request, org_pk) -> Organization:
    return get_object_or_404(Organization.objects.visible_to(request.user), pk=org_pk)


def project_for(request, project_pk) -> Project:
    return get_object_or_404(
        Project.objects.visible_to(request.user).select_related("organization"), pk=project_pk)


def currency_for(request, default) -> str:
    query = s.CurrencyQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data.get("currency") or default()


def csv_download(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csvcells.lines(header, rows),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class DepositViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Payments an organization made to the platform, and refunds sent back to it."""

    serializer_class = s.DepositSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Deposit.objects.none()
        return organization_for(self.request, self.kwargs["org_pk"]).deposits.all()

    def _record(self, request, kind: str) -> Response:
        organization = organization_for(request, self.kwargs["org_pk"])
        require(request.user, Action.OPERATE, message="Only platform operators record payments.")
        body = s.DepositRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deposit, _ = services.record_deposit(organization=organization, by=request.user,
                                             kind=kind, **body.validated_data)
        return Response(s.DepositSerializer(deposit).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DepositRequestSerializer,
                   responses={201: s.DepositSerializer, 403: STAFF_ONLY, 409: KEY_REUSED})
    def create(self, request, org_pk=None):
        """Operators: record a customer's payment. The reference makes it idempotent: the
        same reference again answers the first deposit."""
        return self._record(request, Deposit.Kind.DEPOSIT)

    @extend_schema(request=s.DepositRequestSerializer,
                   responses={201: s.DepositSerializer, 400: OpenApiResponse(
                       description="More than the organization has available."),
                              403: STAFF_ONLY, 409: KEY_REUSED})
    def refund(self, request, org_pk=None):
        """Operators: record money sent back to the customer, up to its available funds."""
        return self._record(request, Deposit.Kind.REFUND)


class BalanceView(APIView):
    @extend_schema(parameters=[CURRENCY], responses={200: s.BalanceSerializer})
    def get(self, request, org_pk: int):
        """Available, reserved, payable and spent funds, in total and per project, with the
        hours of hourly time billed per project."""
        organization = organization_for(request, org_pk)
        currency = currency_for(request, lambda: statements.organization_currency(organization))
        return Response(s.BalanceSerializer(
            statements.organization_balance(organization, currency)).data)


class StatementView(generics.GenericAPIView):
    serializer_class = s.StatementLineSerializer
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ErrorsAsJSON

    @extend_schema(
        parameters=[CURRENCY, CSV_FORMAT],
        responses={200: s.StatementLineSerializer(many=True),
                   (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)})
    def get(self, request, org_pk: int):
        """The ledger lines that touched the organization's funds, newest first: deposits,
        reservations and their release, spend per project with the platform's fee, and
        hourly time with its hours: decided (payable), withheld, and paid by the week."""
        organization = organization_for(request, org_pk)
        currency = currency_for(request, lambda: statements.organization_currency(organization))
        lines = statements.statement(organization, currency)
        if request.query_params.get("format") == "csv":
            header = ["id", "created_at", "kind", "memo", "project", "project_name",
                      "assignment", "available", "reserved", "to_expert", "fee", "currency",
                      "payable", "hours"]
            rows = ([line.pk, line.created_at.isoformat(), line.kind, line.memo,
                     line.project_id, line.project.name if line.project else "",
                     line.assignment_id, money(line.available), money(line.reserved),
                     money(line.to_expert), money(line.fee), currency, money(line.payable),
                     "" if line.seconds is None else statements.hours(line.seconds)]
                    for line in lines.iterator(chunk_size=2000))
            return csv_download(f"statement-{organization.pk}-{currency}.csv", header, rows)
        page = self.paginate_queryset(lines)
        return self.get_paginated_response(
            s.StatementLineSerializer(page, many=True, context={"currency": currency}).data)


class FundingView(APIView):
    @extend_schema(responses={200: s.FundingSerializer})
    def get(self, request, project_pk: int):
        """Whether the project can lease more work now: experts get none from a project its
        organization cannot pay, and `reason` says why."""
        project = project_for(request, project_pk)
        return Response(s.FundingSerializer(statements.funding(project)).data)


class BonusViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.BonusSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Bonus.objects.none()
        return project_for(self.request, self.kwargs["project_pk"]).bonuses.all()

    @extend_schema(request=s.BonusRequestSerializer,
                   responses={201: s.BonusSerializer, 403: MANAGERS_ONLY, 409: FUNDS_SHORT})
    def create(self, request, project_pk=None):
        """Owners and admins: pay an expert who worked on the project a bonus, less the
        platform fee. `idempotency_key` makes a retry answer the first bonus."""
        project = project_for(request, project_pk)
        body = s.BonusRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bonus, _ = services.grant_bonus(project=project, by=request.user, **body.validated_data)
        return Response(s.BonusSerializer(bonus).data, status=status.HTTP_201_CREATED)


class QualityBonusView(APIView):
    """The project's quality bonus: a share of the price on top at approval for experts
    whose trust in the project's domain is above `min_trust`."""

    @extend_schema(responses={200: s.QualityBonusSerializer,
                              404: OpenApiResponse(description="The project has none.")})
    def get(self, request, project_pk: int):
        project = project_for(request, project_pk)
        policy = get_object_or_404(QualityBonusPolicy, project=project)
        return Response(s.QualityBonusSerializer(policy).data)

    @extend_schema(request=s.QualityBonusSerializer,
                   responses={200: s.QualityBonusSerializer, 403: MANAGERS_ONLY})
    def put(self, request, project_pk: int):
        """Leases taken from now on reserve the bonus with the price; leases already held
        keep the terms they were taken under."""
        project = project_for(request, project_pk)
        body = s.QualityBonusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        policy = services.set_quality_bonus(project=project, by=request.user,
                                            rate=body.validated_data["rate"],
                                            min_trust=body.validated_data["min_trust"])
        return Response(s.QualityBonusSerializer(policy).data)

    @extend_schema(responses={204: None, 403: MANAGERS_ONLY})
    def delete(self, request, project_pk: int):
        services.remove_quality_bonus(project=project_for(request, project_pk),
                                      by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


router = SimpleRouter()
router.register(r"orgs/(?P<org_pk>[0-9]+)/deposits", DepositViewSet, basename="org-deposit")
router.register(r"projects/(?P<project_pk>[0-9]+)/bonuses", BonusViewSet, basename="bonus")

urlpatterns = [
    *router.urls,
    path("orgs/<int:org_pk>/refunds/", DepositViewSet.as_view({"post": "refund"}),
         name="org-refund"),
    path("orgs/<int:org_pk>/balance/", BalanceView.as_view(), name="org-balance"),
    path("orgs/<int:org_pk>/statement/", StatementView.as_view(), name="org-statement"),
    path("projects/<int:project_pk>/funding/", FundingView.as_view(), name="project-funding"),
    path("projects/<int:project_pk>/quality-bonus/", QualityBonusView.as_view(),
         name="project-quality-bonus"),
]
