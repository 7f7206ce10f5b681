"""Wire shapes that the REST API of tasks shares with the APIs of the apps built on it.

The quality API describes qualification tests with the same field and question definitions
as projects, and reports bad judge rows as a batch upload reports bad rows; those shapes
live here, outside ``tasks.api``, so that no app's API imports another's.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Domain


@extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": {}}})
class DefinitionsField(serializers.JSONField):
    """Field or question definitions. Their shape is checked by `tasks.schema`, which names
    every problem with its position (`questions[1].options: ...`) in one answer."""


class DomainSlugField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": "Unknown domain: '{value}'. See GET /api/v1/domains/.",
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Domain.objects.all(), **kwargs)


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(
        help_text="As the customer counts: the JSON array element (from 1), the JSONL line, "
                  "or the CSV data row after the header; 0 means the file as a whole.")
    field = serializers.CharField(
        help_text="A data field or CSV column, `external_id`, `gold` or `gold.<question>`, "
                  "`priority`, or `non_field_errors` for the row as a whole.")
    message = serializers.CharField()


class UploadErrorsSerializer(serializers.Serializer):
    errors = RowErrorSerializer(many=True, help_text="The first 100 bad rows at most.")
