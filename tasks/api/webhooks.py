"""Webhooks of a project and the record of their deliveries.

Members of the project's organization read them, owners and admins change them (the services
decide), anyone else finds nothing (404). The secret is returned once, by the create call.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from config.ids import ModelSerializer

from .. import webhooks
from ..models import Project, Webhook, WebhookDelivery


class WebhookSerializer(ModelSerializer):
    url = serializers.URLField(max_length=500, help_text="An http:// or https:// URL.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=Webhook.Event.choices),
                                   allow_empty=False)

    class Meta:
        model = Webhook
        fields = ["id", "project", "url", "events", "active", "created_at"]
        read_only_fields = ["project", "created_at"]


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The key of the X-Signature HMAC. Shown only in this answer.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class DeliverySerializer(ModelSerializer):
    event = serializers.CharField(read_only=True,
                                  help_text="One of the webhook events, or `ping`.")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "webhook", "event", "payload", "status", "attempts", "next_attempt_at",
                  "response_status", "response_body", "error", "created_at", "delivered_at"]
        read_only_fields = fields


@extend_schema_view(create=extend_schema(responses={201: WebhookCreatedSerializer}))
class ProjectWebhookViewSet(mixins.ListModelMixin, mixins.CreateModelMixin,
                            viewsets.GenericViewSet):
    """A project's webhooks."""

    serializer_class = WebhookSerializer

    def project(self) -> Project:
        return get_object_or_404(Project.objects.visible_to(self.request.user),
                                 pk=self.kwargs["project_pk"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Webhook.objects.none()
        return self.project().webhooks.order_by("id")

    def create(self, request, *args, **kwargs):
        """Subscribe a URL to events; the answer carries the signing secret, once."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = webhooks.create_webhook(user=request.user, project=self.project(),
                                          **serializer.validated_data)
        return Response(WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)


class WebhookViewSet(mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                     mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = WebhookSerializer
    http_method_names = ["get", "post", "patch", "delete"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Webhook.objects.none()
        return Webhook.objects.visible_to(self.request.user).select_related(
            "project__organization")

    def perform_update(self, serializer):
        serializer.instance = webhooks.update_webhook(
            user=self.request.user, webhook=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        webhooks.delete_webhook(user=self.request.user, webhook=instance)

    @extend_schema(request=None, responses={
        202: DeliverySerializer,
        403: OpenApiResponse(description="Only owners and admins send test events.")})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a `ping` event; its outcome appears among the webhook's deliveries."""
        delivery = webhooks.send_ping(user=request.user, webhook=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Deliveries of one webhook, newest first, with the endpoint's answer to each."""

    serializer_class = DeliverySerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        webhook = get_object_or_404(Webhook.objects.visible_to(self.request.user),
                                    pk=self.kwargs["webhook_pk"])
        return webhook.deliveries.order_by("-id")


router = SimpleRouter()
router.register(r"projects/(?P<project_pk>[0-9]+)/webhooks", ProjectWebhookViewSet,
                basename="project-webhook")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register(r"webhooks/(?P<webhook_pk>[0-9]+)/deliveries", DeliveryViewSet,
                basename="webhook-delivery")
urlpatterns = router.urls
