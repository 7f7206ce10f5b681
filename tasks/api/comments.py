"""Discussion on an item between the customer's team, operators and the experts who worked it.

Whoever may not see the item finds no comments either (404). Experts stay anonymous: apart
from operators, everyone sees an expert author under the pseudonym the project's exports
use, and experts see the customer's and operators' people by their role alone.
"""

from functools import cached_property

from django.db import models
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.routers import SimpleRouter

from accounts.models import Membership
from config.ids import ModelSerializer

from .. import services
from ..export import expert_pseudonym
from ..models import Comment, Item


class AuthorRole(models.TextChoices):
    OPERATOR = "operator", "Operator"
    CUSTOMER = "customer", "Customer"
    EXPERT = "expert", "Expert"


class CommentAuthorSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=AuthorRole.choices)
    name = serializers.CharField(help_text="A username, an expert's pseudonym on the project, "
                                           "or for an expert reader the role of a non-expert.")


class CommentSerializer(ModelSerializer):
    author = serializers.SerializerMethodField()
    mine = serializers.SerializerMethodField()
    body = serializers.CharField(max_length=10_000)

    class Meta:
        model = Comment
        fields = ["id", "item", "author", "mine", "body", "created_at"]
        read_only_fields = ["id", "item", "created_at"]

    @extend_schema_field(CommentAuthorSerializer)
    def get_author(self, comment: Comment) -> dict[str, str]:
        reader, item = self.context["request"].user, self.context["item"]
        author = comment.author
        if author.is_staff:
            role = AuthorRole.OPERATOR
        elif author.pk in self.context["customer_ids"]:
            role = AuthorRole.CUSTOMER
        else:
            role = AuthorRole.EXPERT
        if reader.is_staff:
            name = author.username
        elif role == AuthorRole.EXPERT:
            name = expert_pseudonym(item.project_id, author.pk)
        elif self.context["reader_is_expert"]:
            name = role.value
        else:
            name = author.username
        return {"role": role.value, "name": name}

    def get_mine(self, comment: Comment) -> bool:
        return comment.author_id == self.context["request"].user.pk


class CommentViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Comments on one item, oldest first."""

    serializer_class = CommentSerializer

    @cached_property
    def item(self) -> Item:
        return get_object_or_404(Item.objects.visible_to(self.request.user)
                                 .select_related("project"), pk=self.kwargs["item_pk"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Comment.objects.none()
        return self.item.comments.select_related("author").order_by("created_at", "id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        user, item = self.request.user, self.item
        # The customer's people among the authors, and the reader, who may be about to post.
        customer_ids = set(
            Membership.objects.filter(organization_id=item.project.organization_id)
            .filter(Q(user__in=item.comments.values("author")) | Q(user=user))
            .values_list("user_id", flat=True))
        return {**context, "item": item, "customer_ids": customer_ids,
                "reader_is_expert": not user.is_staff and user.pk not in customer_ids}

    def perform_create(self, serializer):
        serializer.instance = services.add_comment(
            user=self.request.user, item=self.item, body=serializer.validated_data["body"])


router = SimpleRouter()
router.register(r"items/(?P<item_pk>[0-9]+)/comments", CommentViewSet, basename="item-comment")
urlpatterns = router.urls
