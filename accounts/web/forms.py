"""Forms of the sign-up and profile pages, holding the same rules as the API's serializers:
Django's password validators, case-insensitive unique usernames and emails, known domain
slugs, ISO language codes, real time zones."""

from zoneinfo import available_timezones

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)
from django.core.validators import RegexValidator

from ..languages import normalize_language
from ..models import Degree, Domain
from ..services import EVIDENCE_MAX_BYTES, EVIDENCE_TYPES

User = get_user_model()
TIMEZONE_CHOICES = [(name, name) for name in sorted(available_timezones())]


def domain_choices(exclude: set[int] = frozenset()) -> list[tuple[str, list[tuple[str, str]]]]:
    """Domain slugs grouped under their top-level domain, the top level itself first."""
    domains = list(Domain.objects.only("pk", "slug", "name", "parent_id"))
    children: dict[int | None, list[Domain]] = {}
    for domain in domains:
        children.setdefault(domain.parent_id, []).append(domain)
    groups = []
    for root in sorted(children.get(None, []), key=lambda d: d.name):
        members = [root, *sorted(children.get(root.pk, []), key=lambda d: d.name)]
        options = [(d.slug, f"{d.name} (general)" if d is root else d.name)
                   for d in members if d.pk not in exclude]
        if options:
            groups.append((root.name, options))
    return groups


class DomainsField(forms.MultipleChoiceField):
    """Domain slugs, cleaned to Domain objects in the order given."""

    widget = forms.CheckboxSelectMultiple(attrs={"class": "ws-domain-choices"})

    def clean(self, value):
        slugs = super().clean(value)
        found = {d.slug: d for d in Domain.objects.filter(slug__in=slugs)}
        return [found[slug] for slug in dict.fromkeys(slugs) if slug in found]


class LanguagesField(forms.CharField):
    """ISO language codes separated by commas or spaces (``en, de``)."""

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        codes, unknown = [], []
        for code in text.replace(",", " ").split():
            normalized = normalize_language(code)
            if normalized is None:
                unknown.append(code)
            elif normalized not in codes:
                codes.append(normalized)
        if unknown:
            raise forms.ValidationError(
                "Unknown language code(s): %(codes)s. Use ISO codes such as en, de, pt-br.",
                params={"codes": ", ".join(unknown)}, code="unknown_language")
        return codes

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value


class SignupForm(forms.Form):
    username = forms.CharField(
        max_length=150, validators=[RegexValidator(r"^[\w.@+-]+\Z",
                                                   "Use letters, digits and @ . + - _ only.")],
        help_text="Letters, digits and @ . + - _ only.")
    email = forms.EmailField()
    password = forms.CharField(strip=False, widget=forms.PasswordInput,
                               help_text=password_validators_help_text_html())

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with that email already exists.")
        return email

    def clean(self):
        data = super().clean()
        if "password" in data:
            user = User(username=data.get("username", ""), email=data.get("email", ""))
            try:
                validate_password(data["password"], user=user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class ExpertDetailsForm(forms.Form):
    """What an expert says about themselves, at sign-up and later on the profile."""

    full_name = forms.CharField(max_length=200)
    field_of_study = forms.CharField(max_length=200)
    languages = LanguagesField(max_length=200, help_text="ISO codes, such as en, de, pt-br.")
    bio = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES, initial="UTC")
    weekly_availability_hours = forms.IntegerField(
        label="Weekly hours", min_value=0, max_value=168, initial=0,
        help_text="How many hours a week you expect to work.")


class ProfileForm(ExpertDetailsForm):
    """The part of the profile an expert edits; verification and status are not in it."""

    highest_degree = forms.ChoiceField(choices=Degree.choices)

    field_order = ["full_name", "highest_degree", "field_of_study", "languages", "timezone",
                   "weekly_availability_hours", "bio"]


class ExpertSignupForm(SignupForm, ProfileForm):
    domains = DomainsField(help_text="Your fields. A qualification test in each makes the "
                                     "claim count.")

    field_order = ["username", "email", "password", "full_name", "highest_degree",
                   "field_of_study", "domains", "languages", "timezone",
                   "weekly_availability_hours", "bio"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domains"].choices = domain_choices()


class CustomerSignupForm(SignupForm):
    organization = forms.CharField(max_length=200, label="Organization name")


class ClaimDomainsForm(forms.Form):
    domains = DomainsField(label="More domains")

    def __init__(self, *args, claimed: set[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domains"].choices = domain_choices(exclude=claimed)


class CredentialForm(forms.Form):
    """A degree or licence with its evidence, a scan or PDF the operator opens to check; the
    service decides whether the file is acceptable."""

    degree = forms.ChoiceField(choices=Degree.choices)
    field = forms.CharField(max_length=200, required=False, label="Field")
    institution = forms.CharField(max_length=200)
    year = forms.IntegerField(min_value=1900, max_value=2100)
    evidence_file = forms.FileField(
        label="Evidence", max_length=200,
        help_text=f"A PDF, PNG or JPEG of at most {EVIDENCE_MAX_BYTES // 1024 // 1024} MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(EVIDENCE_TYPES)}))
