from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .. import services
from ..access import Action, may
from ..models import Domain, ExpertProfile, Membership, Organization
from . import serializers as s

User = get_user_model()


class ObtainTokenView(APIView):
    """Exchange a username and password for an API token (stored hashed on our side)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=s.TokenRequestSerializer, responses={200: s.TokenSerializer},
                   auth=[])
    def post(self, request):
        serializer = s.TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        instance, token = AuthToken.objects.create(serializer.validated_data["user"])
        return Response({"token": token, "expiry": instance.expiry})


class SignupView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "signup"


class ExpertSignupView(SignupView):
    """Create an expert account; its verification starts as `pending`."""

    @extend_schema(request=s.ExpertSignupSerializer, responses={201: s.UserSerializer},
                   auth=[])
    def post(self, request):
        serializer = s.ExpertSignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        profile = services.signup_expert(
            username=data["username"], email=data["email"], password=data["password"],
            full_name=data["full_name"], highest_degree=data["highest_degree"],
            field_of_study=data["field_of_study"], domains=data["domains"],
            languages=data["languages"], bio=data["bio"], timezone_name=data["timezone"],
            weekly_availability_hours=data["weekly_availability_hours"],
        )
        return Response(s.UserSerializer(profile.user).data, status=status.HTTP_201_CREATED)


class CustomerSignupView(SignupView):
    """Create a customer account and its organization, with the new user as owner."""

    @extend_schema(request=s.CustomerSignupSerializer, responses={201: s.UserSerializer},
                   auth=[])
    def post(self, request):
        serializer = s.CustomerSignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        membership = services.signup_customer(
            username=data["username"], email=data["email"], password=data["password"],
            organization_name=data["organization"])
        return Response(s.UserSerializer(membership.user).data,
                        status=status.HTTP_201_CREATED)


def me_queryset():
    return User.objects.select_related("expert_profile").prefetch_related(
        "memberships__organization", "expert_profile__expertise__domain",
        "expert_profile__credentials")


class MeView(APIView):
    """The signed-in user, their expert profile (if any) and their memberships."""

    @extend_schema(responses={200: s.UserSerializer})
    def get(self, request):
        return Response(s.UserSerializer(me_queryset().get(pk=request.user.pk)).data)

    @extend_schema(request=s.MeUpdateSerializer, responses={200: s.UserSerializer})
    def patch(self, request):
        serializer = s.MeUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        profile_changes = data.pop("expert_profile", None)
        if data:
            for name, value in data.items():
                setattr(request.user, name, value)
            request.user.save(update_fields=list(data))
        if profile_changes is not None:
            domains = profile_changes.pop("domains", None)
            services.update_expert_profile(request.user.expert_profile, domains=domains,
                                           **profile_changes)
        return Response(s.UserSerializer(me_queryset().get(pk=request.user.pk)).data)


class DomainViewSet(viewsets.ReadOnlyModelViewSet):
    """The expertise taxonomy: top-level domains have `parent: null`."""

    queryset = Domain.objects.select_related("parent")
    serializer_class = s.DomainSerializer
    lookup_field = "slug"
    filterset_fields = ["parent__slug"]


class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.OrganizationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Organization.objects.none()
        return Organization.objects.visible_to(self.request.user).order_by("name")


class MemberViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                    mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Members of one organization; owners and admins manage them, only owners make owners."""

    serializer_class = s.MemberSerializer
    http_method_names = ["get", "post", "patch", "delete"]

    def organization(self) -> Organization:
        return get_object_or_404(Organization.objects.visible_to(self.request.user),
                                 pk=self.kwargs["org_pk"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return (Membership.objects.filter(organization=self.organization())
                .select_related("user").order_by("id"))

    def perform_create(self, serializer):
        serializer.instance = services.add_member(
            organization=self.organization(), actor=self.request.user,
            user=serializer.validated_data["user"]["username"],
            role=serializer.validated_data["role"])

    @extend_schema(request=s.MemberRoleSerializer, responses={200: s.MemberSerializer})
    def partial_update(self, request, *args, **kwargs):
        serializer = s.MemberRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.change_member_role(
            membership=self.get_object(), actor=request.user,
            role=serializer.validated_data["role"])
        return Response(s.MemberSerializer(membership).data)

    def perform_destroy(self, instance):
        services.remove_member(membership=instance, actor=self.request.user)


class IsStaff(permissions.BasePermission):
    def has_permission(self, request, view):
        return may(request.user, Action.OPERATE)


class ExpertViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """An expert's full profile, for the expert and for operators."""

    serializer_class = s.ExpertProfileSerializer
    lookup_field = "user"
    lookup_url_kwarg = "id"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ExpertProfile.objects.none()
        return (ExpertProfile.objects.visible_to(self.request.user).select_related("user")
                .prefetch_related("expertise__domain", "credentials"))

    @extend_schema(request=s.VerificationSerializer,
                   responses={200: s.ExpertProfileSerializer,
                              403: OpenApiResponse(description="Not an operator.")})
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def verify(self, request, id=None):
        """Operators: set an expert's verification (`verified`, or `rejected` with a reason)."""
        serializer = s.VerificationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        expert = services.set_verification(
            expert=self.get_object(), actor=request.user,
            verification=serializer.validated_data["verification"],
            reason=serializer.validated_data["reason"])
        return Response(s.ExpertProfileSerializer(expert).data)

