"""Forms of the customer's project pages. They check the shape of what was typed; the
services decide everything else (roles, schemas, uploads) and their refusals come back onto
these forms through ``perform``."""

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet

from accounts.access import ROLES_FOR, Action
from accounts.models import Domain, Organization
from config import jsonvalues
from config.money import AmountFormField

from .. import ingest, schema
from ..models import Project, Webhook

PRESET_LABELS = {
    "sft": "SFT: a prompt, the expert writes the answer",
    "preference": "Preference: a prompt and completions, pick the better one (and rewrite)",
    "rubric": "Rubric: rate a response for helpfulness, accuracy and safety",
    "classification": "Classification: a text and your own labels (give them below)",
    "conversation_review": "Conversation review: rate a chat and give a verdict",
    "agent_trace_review": "Agent trace review: judge an agent's steps and outcome",
}
ADVANCED_KEYS = ("fields", "questions")


def editable_organizations(user) -> QuerySet[Organization]:
    """The organizations in which the user may define projects."""
    organizations = Organization.objects.visible_to(user)
    if user.is_staff:
        return organizations
    return organizations.filter(role__in=ROLES_FOR[Action.EDIT_PROJECTS])


def domain_choices() -> list[tuple[str, list[tuple[int, str]]]]:
    """Domains grouped under their top-level domain, which comes first in its own group."""
    domains = list(Domain.objects.order_by("name"))
    roots = [domain for domain in domains if domain.parent_id is None]
    children: dict[int, list[Domain]] = {}
    for domain in domains:
        if domain.parent_id is not None:
            children.setdefault(domain.parent_id, []).append(domain)
    return [(root.name, [(root.pk, f"{root.name} (any of its fields)")]
             + [(child.pk, child.name) for child in children.get(root.pk, [])])
            for root in roots]


class ProjectForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(),
                                          empty_label=None)
    name = forms.CharField(max_length=Project._meta.get_field("name").max_length)
    preset = forms.ChoiceField(choices=[(name, PRESET_LABELS.get(name, name))
                                        for name in schema.PRESETS])
    domain = forms.TypedChoiceField(coerce=int, help_text=(
        "Experts qualified in this domain do the work; a top-level domain takes the experts "
        "of all its fields."))
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False,
                                   help_text="What experts read before they answer.")
    overlap = forms.IntegerField(min_value=1, max_value=50, initial=1,
                                 help_text="How many experts answer each item.")
    price_per_item = AmountFormField(min_value=0, max_digits=12, initial=Decimal("0.00"),
                                     help_text="Paid per approved answer.")
    currency = forms.RegexField(regex=r"^[A-Z]{3}$", initial=settings.DEFAULT_CURRENCY,
                                max_length=3, error_messages={
                                    "invalid": "Three capital letters, such as USD."})
    visibility = forms.ChoiceField(choices=Project.Visibility.choices,
                                   initial=Project.Visibility.PUBLIC)
    advanced = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false",
                                                     "class": "vLargeTextField ws-code"}),
        label="Advanced: fields and questions (JSON)",
        help_text='Replaces the preset\'s lists, e.g. {"questions": [{"name": "label", '
                  '"kind": "label", "options": ["positive", "negative"]}]}.')

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = editable_organizations(user)
        self.fields["domain"].choices = domain_choices()

    def clean_domain(self) -> Domain:
        return Domain.objects.get(pk=self.cleaned_data["domain"])

    def clean_advanced(self) -> dict[str, Any]:
        text = self.cleaned_data["advanced"].strip()
        if not text:
            return {}
        try:
            value = jsonvalues.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from exc
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid here: {exc}") from exc
        if not isinstance(value, dict) or not value or set(value) - set(ADVANCED_KEYS):
            raise forms.ValidationError(
                'Write a JSON object with "fields", "questions" or both.')
        return value


class UploadForm(forms.Form):
    file = forms.FileField(help_text=(
        ".jsonl (one item per line), .json (an array of items) or .csv (a header with "
        "external_id and one column per field)."))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if ingest.format_of(upload.name) is None:
            raise forms.ValidationError(
                f"Name the file .jsonl, .json or .csv; got {upload.name!r}.")
        return upload


class WebhookForm(forms.Form):
    url = forms.CharField(max_length=Webhook._meta.get_field("url").max_length, label="URL",
                          help_text="An http:// or https:// address that accepts POST.")
    events = forms.MultipleChoiceField(choices=Webhook.Event.choices,
                                       widget=forms.CheckboxSelectMultiple,
                                       initial=Webhook.Event.values)
