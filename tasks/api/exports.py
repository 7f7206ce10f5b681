"""Dataset downloads: ``GET /projects/{id}/export/?view=...&format=jsonl|csv``, streamed."""

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from config.negotiation import ErrorsAsJSON
from config.renderers import JSONRenderer

from .. import export
from ..models import Project


class ExportQuerySerializer(serializers.Serializer):
    view = serializers.CharField(default="raw")
    format = serializers.ChoiceField(choices=sorted(export.FORMATS), default="jsonl")

    def validate_view(self, value: str) -> str:
        # Read at request time: other apps register their views when they are ready.
        if value not in export.VIEWS:
            raise serializers.ValidationError(
                f"Unknown view {value!r}; this server offers {', '.join(sorted(export.VIEWS))}.")
        return value


DATASET = ("JSONL: one JSON object per line. CSV: a header row, then one row per record, "
           "with lists, objects and booleans in JSON spelling.")


class ExportView(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ErrorsAsJSON

    @extend_schema(
        operation_id="projects_export",
        parameters=[
            OpenApiParameter("view", str, enum=sorted(export.VIEWS), default="raw",
                             description="Which dataset: `raw` annotations, `sft` chat "
                                         "rows, `dpo` preference pairs, and views other "
                                         "apps register (`consensus`)."),
            OpenApiParameter("format", str, enum=sorted(export.FORMATS), default="jsonl"),
            *(OpenApiParameter(param, str, description=f"`{name}` view: {help_text}")
              for name, view in sorted(export.VIEWS.items())
              for param, help_text in view.params.items()),
        ],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR,
                                                           description=DATASET),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=DATASET),
            400: OpenApiResponse(description="Unknown view or format, or a view this "
                                             "project's questions cannot produce."),
        },
    )
    def get(self, request, pk: int):
        """Stream one view of the project's work; nothing is built in memory first."""
        project = get_object_or_404(Project.objects.visible_to(request.user), pk=pk)
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        view_name, file_format = query.validated_data["view"], query.validated_data["format"]
        view = export.VIEWS[view_name]
        options = {param: request.query_params[param] for param in view.params
                   if param in request.query_params}
        try:
            rows = view.rows(project, **options)
        except export.ExportUnavailable as exc:
            raise serializers.ValidationError({"view": [str(exc)]}) from exc
        content_type, extension = export.FORMATS[file_format]
        response = StreamingHttpResponse(export.stream(rows, view.columns, file_format),
                                         content_type=content_type)
        response["Content-Disposition"] = (
            f'attachment; filename="project-{project.pk}-{view_name}.{extension}"')
        return response


urlpatterns = [
    path("projects/<int:pk>/export/", ExportView.as_view(), name="project-export"),
]
