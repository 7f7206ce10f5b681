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
DEFAULT_WEEKLY_CAP = Decimal(40)


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
    contract = forms.ChoiceField(
        choices=Project.Contract.choices, initial=Project.Contract.PER_TASK, required=False,
        help_text="Per task: a price per approved answer. Hourly: a rate per hour of the "
                  "experts' active time, paid weekly, rejected work included.")
    price_per_item = AmountFormField(min_value=0, max_digits=12, initial=Decimal("0.00"),
                                     required=False,
                                     help_text="Per task: paid per approved answer.")
    hourly_rate = AmountFormField(min_value=0, max_digits=12, initial=Decimal("0.00"),
                                  required=False,
                                  help_text="Hourly: paid per hour of active time; experts "
                                            "receive it less the platform fee.")
    weekly_cap_hours = forms.DecimalField(
        min_value=Decimal("0.01"), max_value=Decimal(168), max_digits=5, decimal_places=2,
        initial=DEFAULT_WEEKLY_CAP, required=False, label="Weekly cap (hours)",
        help_text="Hourly: the most hours one expert may log on the project in a week "
                  "(from Monday 00:00 UTC).")
    estimated_minutes = forms.DecimalField(
        min_value=Decimal("0.1"), max_digits=7, decimal_places=1, required=False,
        label="Estimated minutes per item",
        help_text="Shown to experts until approved work gives a measured time; optional.")
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

    def clean(self) -> dict[str, Any]:
        """The settings as the services name them: a price left blank is 0 and the estimate
        is in seconds."""
        cleaned = super().clean()
        cleaned.update(contract_values(cleaned))
        return cleaned


def contract_values(cleaned: dict[str, Any]) -> dict[str, Any]:
    """Pay and time settings of a project form, in the services' names and units; what was
    left blank takes the model's default."""
    values = {name: cleaned.get(name) or Decimal(0)
              for name in ("price_per_item", "hourly_rate")}
    values["contract"] = cleaned.get("contract") or Project.Contract.PER_TASK
    values["weekly_cap_hours"] = cleaned.get("weekly_cap_hours") or DEFAULT_WEEKLY_CAP
    minutes = cleaned.pop("estimated_minutes", None)
    values["estimated_seconds"] = round(minutes * 60) if minutes else None
    return values


class ProjectPayForm(forms.Form):
    """The pay and time settings of an existing project. Once experts have started work the
    contract and its price are fixed; the services say so on the field."""

    contract = ProjectForm.base_fields["contract"]
    price_per_item = ProjectForm.base_fields["price_per_item"]
    hourly_rate = ProjectForm.base_fields["hourly_rate"]
    weekly_cap_hours = ProjectForm.base_fields["weekly_cap_hours"]
    estimated_minutes = ProjectForm.base_fields["estimated_minutes"]

    @classmethod
    def of(cls, project: Project, data=None) -> "ProjectPayForm":
        minutes = None
        if project.estimated_seconds:
            minutes = (Decimal(project.estimated_seconds) / 60).quantize(Decimal("0.1"))
        form = cls(data, initial={
            "contract": project.contract, "price_per_item": project.price_per_item,
            "hourly_rate": project.hourly_rate, "weekly_cap_hours": project.weekly_cap_hours,
            "estimated_minutes": minutes})
        form.project = project
        return form

    def changes(self) -> dict[str, Any]:
        """Only what differs from the project: an unchanged fixed setting is no change."""
        values = dict(self.cleaned_data)
        values.update(contract_values(values))
        return {name: value for name, value in values.items()
                if value != getattr(self.project, name)}


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
