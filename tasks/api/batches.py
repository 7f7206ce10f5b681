"""Batch uploads: a project's items arrive as a JSON array body or as a file, all-or-nothing.

DRF never parses the upload: the view hands the raw stream (or the multipart file) to
``tasks.ingest``, which reads it row by row, so an upload is bounded by
``settings.BATCH_MAX_BYTES`` and not by the memory of a web worker.
"""

import io

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.access import Action, require
from config.exceptions import PayloadTooLarge
from config.headers import idempotency_key
from config.ids import ModelSerializer, WholeNumberField

from .. import ingest
from ..models import Batch, Project
from ..serializers import RowErrorSerializer, UploadErrorsSerializer

IDEMPOTENCY_KEY_MAX_LENGTH = Batch._meta.get_field("idempotency_key").max_length


class BatchSerializer(ModelSerializer):
    errors = RowErrorSerializer(many=True, read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "project", "status", "filename", "file_format", "rows", "created",
                  "existing", "errors", "created_at", "finished_at"]
        read_only_fields = fields
        extra_kwargs = {
            "rows": {"help_text": "Rows read; while a background batch is processing, the rows "
                                  "validated so far."},
            "created": {"help_text": "New items."},
            "existing": {"help_text": "Rows whose external_id the project already had; those "
                                      "items were left unchanged."},
        }


class BatchAcceptedSerializer(ModelSerializer):
    class Meta:
        model = Batch
        fields = ["id", "status"]
        read_only_fields = fields


class ItemRowSerializer(serializers.Serializer):
    """One element of a JSON array upload (and one line of a JSONL file)."""

    external_id = serializers.CharField(
        max_length=ingest.EXTERNAL_ID_MAX_LENGTH,
        help_text="Unique within the project; an id the project already has is counted as "
                  "`existing` and that item is not changed.")
    data = serializers.DictField(help_text="A value for each of the project's fields.")
    gold = serializers.DictField(
        required=False,
        help_text="Makes this a gold item: reference answers keyed by question name (free "
                  "text questions excluded).")
    priority = WholeNumberField(
        required=False, default=0, min_value=ingest.PRIORITY_RANGE[0],
        max_value=ingest.PRIORITY_RANGE[1], help_text="Higher is served first.")


class BatchFileSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="`.jsonl` (one item per line), `.json` (an array of items) or `.csv` (a "
                  "header with `external_id`, one column per field, optionally `gold` as JSON "
                  "and `priority`; list and object fields as JSON in their cell).")


class ProblemSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="On 409: `archived`.")


def _detail(description: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description)


class ProjectBatchesView(generics.ListAPIView):
    """A project's batches, newest first; POST uploads a new one."""

    serializer_class = BatchSerializer
    parser_classes = [JSONParser, MultiPartParser]

    def project(self) -> Project:
        return get_object_or_404(Project.objects.visible_to(self.request.user),
                                 pk=self.kwargs["project_pk"])

    def get_queryset(self) -> QuerySet[Batch]:
        if getattr(self, "swagger_fake_view", False):
            return Batch.objects.none()
        return self.project().batches.order_by("-id")

    @extend_schema(
        summary="Upload items",
        description=(
            "All-or-nothing: every row is validated against the project's fields (gold "
            "answers against its questions) and nothing is stored unless all are valid. Send "
            "a JSON array body, or a multipart `file` (`.jsonl`, `.json` or `.csv`, UTF-8). Up "
            f"to `BATCH_SYNC_ROW_LIMIT` rows (default {settings.BATCH_SYNC_ROW_LIMIT:,}) the "
            "items are stored before the answer (201); a larger upload is answered 202 and "
            "stored in the background: poll `GET /api/v1/batches/{id}/`. An `external_id` the "
            "project already has counts as `existing` and is left unchanged; one repeated "
            "within the upload is an error. New items take the project's overlap. A completed "
            "project that receives new non-gold items becomes active again. Owners, admins "
            "and members may upload."),
        parameters=[OpenApiParameter(
            "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
            description="Repeating a key on the same project returns the first batch, with "
                        "the first status code, without reading the upload again.")],
        request={"application/json": ItemRowSerializer(many=True),
                 "multipart/form-data": BatchFileSerializer},
        responses={
            201: BatchSerializer,
            202: BatchAcceptedSerializer,
            400: OpenApiResponse(UploadErrorsSerializer, description=(
                "Bad rows, at most the first 100 (`row` 0 is the file as a whole), or more "
                "than `BATCH_MAX_ROWS` rows; nothing was stored. A missing or misnamed `file` "
                "answers DRF's `{\"file\": [...]}` instead.")),
            403: _detail("Your role in the organization does not allow uploads."),
            404: _detail("No such project among your organizations'."),
            409: _detail("The project is archived."),
            413: _detail("The request body is larger than `BATCH_MAX_BYTES`."),
            415: _detail("Neither a JSON body nor a multipart form."),
        },
    )
    def post(self, request, project_pk: int):
        project = self.project()
        require(request.user, Action.EDIT_PROJECTS, project.organization_id)
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.BATCH_MAX_BYTES:
            raise PayloadTooLarge(ingest.too_large_message(settings.BATCH_MAX_BYTES),
                                  limit=settings.BATCH_MAX_BYTES)
        key = idempotency_key(request, max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
        stream, file_format, filename = self._upload(request)
        try:
            batch = ingest.upload(user=request.user, project=project, stream=stream,
                                  file_format=file_format, filename=filename,
                                  idempotency_key=key)
        except ingest.UploadRejected as rejected:
            return Response({"errors": rejected.errors}, status=status.HTTP_400_BAD_REQUEST)
        if ingest.answered_in_background(batch):
            location = reverse("batch-detail", kwargs={"pk": batch.pk})
            return Response(BatchAcceptedSerializer(batch).data,
                            status=status.HTTP_202_ACCEPTED, headers={"Location": location})
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _upload(request):
        """The raw upload, its format and its file name, without parsing a JSON body."""
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                raise exceptions.ValidationError({"file": [
                    "Attach the items as a .jsonl, .json or .csv file in the field `file`."]})
            file_format = ingest.format_of(upload.name)
            if file_format is None:
                raise exceptions.ValidationError({"file": [
                    f"Name the file .jsonl, .json or .csv; got {upload.name!r}."]})
            upload.seek(0)
            return upload, file_format, upload.name
        if media_type == "application/json":
            return request.stream or io.BytesIO(), "json", ""
        raise exceptions.UnsupportedMediaType(media_type)


class BatchDetailView(generics.RetrieveAPIView):
    """One batch: `status` is `pending`, `processing` (with `rows` read so far), `done` (with
    `created` and `existing`) or `failed` (with `errors`)."""

    serializer_class = BatchSerializer

    def get_queryset(self) -> QuerySet[Batch]:
        if getattr(self, "swagger_fake_view", False):
            return Batch.objects.none()
        return Batch.objects.visible_to(self.request.user)


urlpatterns = [
    path("projects/<int:project_pk>/batches/", ProjectBatchesView.as_view(),
         name="project-batches"),
    path("batches/<int:pk>/", BatchDetailView.as_view(), name="batch-detail"),
]
