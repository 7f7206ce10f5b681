from zoneinfo import available_timezones

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from config.ids import ModelSerializer, WholeNumberField

from ..languages import normalize_language
from ..models import Credential, Degree, Domain, Expertise, ExpertProfile, Membership

User = get_user_model()
TIMEZONES = frozenset(available_timezones())


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)

    def validate(self, attrs):
        user = authenticate(self.context["request"], username=attrs["username"],
                            password=attrs["password"])
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with the given username and password."]})
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class DomainSerializer(ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Domain
        fields = ["slug", "name", "parent", "description"]


class DomainSlugsField(serializers.ListField):
    """A list of domain slugs; unknown slugs are named in the error."""

    child = serializers.SlugField()

    def to_internal_value(self, data):
        slugs = list(dict.fromkeys(super().to_internal_value(data)))
        found = {d.slug: d for d in Domain.objects.filter(slug__in=slugs)}
        unknown = [s for s in slugs if s not in found]
        if unknown:
            raise serializers.ValidationError(
                [f"Unknown domain: {slug!r}. See GET /api/v1/domains/." for slug in unknown])
        return [found[s] for s in slugs]


class LanguagesField(serializers.ListField):
    child = serializers.CharField(max_length=16)

    def to_internal_value(self, data):
        codes, errors = [], []
        for code in super().to_internal_value(data):
            normalized = normalize_language(code)
            if normalized is None:
                errors.append(f"Unknown language code: {code!r} (use ISO codes such as 'en').")
            elif normalized not in codes:
                codes.append(normalized)
        if errors:
            raise serializers.ValidationError(errors)
        return codes


def check_password(password: str, username: str, email: str) -> None:
    try:
        validate_password(password, user=User(username=username, email=email))
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"password": exc.messages}) from exc


class SignupSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False,
                                     style={"input_type": "password"})

    def validate_username(self, value):
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        return value

    def validate_email(self, value):
        if User.objects.filter(email__iexact=value).exists():
            raise serializers.ValidationError("A user with that email already exists.")
        return value

    def validate(self, attrs):
        check_password(attrs["password"], attrs["username"], attrs["email"])
        return attrs


class ExpertSignupSerializer(SignupSerializer):
    full_name = serializers.CharField(max_length=200)
    highest_degree = serializers.ChoiceField(choices=Degree.choices)
    field_of_study = serializers.CharField(max_length=200)
    domains = DomainSlugsField(allow_empty=False)
    languages = LanguagesField(allow_empty=False)
    bio = serializers.CharField(required=False, allow_blank=True, default="")
    timezone = serializers.ChoiceField(choices=sorted(TIMEZONES), required=False,
                                       default="UTC")
    weekly_availability_hours = WholeNumberField(min_value=0, max_value=168,
                                                 required=False, default=0)


class CustomerSignupSerializer(SignupSerializer):
    organization = serializers.CharField(max_length=200)


class ExpertiseSerializer(ModelSerializer):
    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Expertise
        fields = ["domain", "level", "qualification_score", "source", "qualified_at",
                  "suspended_until", "suspension_reason"]


class CredentialSerializer(ModelSerializer):
    class Meta:
        model = Credential
        fields = ["id", "degree", "field", "institution", "year", "evidence", "status",
                  "reviewer_notes", "reviewed_at"]
        read_only_fields = ["status", "reviewer_notes", "reviewed_at"]


class ExpertProfileSerializer(ModelSerializer):
    """The expert's own view (and staff's): everything about the profile, nothing secret."""

    id = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    expertise = ExpertiseSerializer(many=True, read_only=True)
    credentials = CredentialSerializer(many=True, read_only=True)

    class Meta:
        model = ExpertProfile
        fields = ["id", "username", "full_name", "highest_degree", "field_of_study",
                  "languages", "bio", "timezone", "weekly_availability_hours", "status",
                  "status_reason", "verification", "verified_at", "verification_reason",
                  "expertise", "credentials", "created_at"]
        read_only_fields = fields


class ExpertProfileUpdateSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=200, required=False)
    highest_degree = serializers.ChoiceField(choices=Degree.choices, required=False)
    field_of_study = serializers.CharField(max_length=200, required=False)
    languages = LanguagesField(allow_empty=False, required=False)
    bio = serializers.CharField(required=False, allow_blank=True)
    timezone = serializers.ChoiceField(choices=sorted(TIMEZONES), required=False)
    weekly_availability_hours = WholeNumberField(min_value=0, max_value=168,
                                                 required=False)
    domains = DomainSlugsField(allow_empty=False, required=False,
                               help_text="Domain slugs to add as claims.")


class MembershipSerializer(ModelSerializer):
    organization = serializers.IntegerField(source="organization_id", read_only=True)
    organization_name = serializers.CharField(source="organization.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["organization", "organization_name", "role"]


class UserSerializer(ModelSerializer):
    expert_profile = ExpertProfileSerializer(read_only=True, allow_null=True)
    memberships = MembershipSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "is_staff",
                  "expert_profile", "memberships"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not instance.is_expert:
            data["expert_profile"] = None
        return data


class MeUpdateSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    expert_profile = ExpertProfileUpdateSerializer(required=False)

    def validate_email(self, value):
        user = self.context["request"].user
        if User.objects.filter(email__iexact=value).exclude(pk=user.pk).exists():
            raise serializers.ValidationError("A user with that email already exists.")
        return value

    def validate_expert_profile(self, value):
        if not self.context["request"].user.is_expert:
            raise serializers.ValidationError("Only experts have an expert profile.")
        return value


class MemberSerializer(ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Membership.Role.choices)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "created_at"]
        read_only_fields = ["id", "user", "created_at"]

    def validate_username(self, value):
        try:
            return User.objects.get(username=value)
        except User.DoesNotExist as exc:
            raise serializers.ValidationError(f"No user named {value!r}.") from exc


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class OrganizationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    role = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class VerificationSerializer(serializers.Serializer):
    verification = serializers.ChoiceField(choices=ExpertProfile.Verification.choices,
                                           default=ExpertProfile.Verification.VERIFIED)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
