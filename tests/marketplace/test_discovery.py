"""The directory and the experts' listing follow the domain tree as routing does: expertise in
a domain, its parent or one of its subdomains counts, unless it is suspended."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Domain, Expertise, ExpertProfile
from marketplace import discovery
from tests import factories

pytestmark = pytest.mark.django_db


def slugs(domains: list[Domain]) -> set[str]:
    return {domain.slug for domain in domains}


def suspend(expert, slug: str) -> None:
    Expertise.objects.filter(expert__user=expert, domain__slug=slug).update(
        suspended_until=timezone.now() + timedelta(days=1), suspension_reason="low accuracy")


def listed(expert) -> set[int]:
    profile = ExpertProfile.objects.get(user=expert)
    return set(discovery.listed_projects(profile).values_list("pk", flat=True))


def test_a_domain_admits_itself_its_parent_and_its_subdomains():
    medicine = Domain.objects.get(slug="medicine")
    assert slugs(discovery.admitting_domains("medicine")) == {
        "medicine", *medicine.children.values_list("slug", flat=True)}
    assert slugs(discovery.admitting_domains("law-tax")) == {"law-tax", "law"}
    assert discovery.admitting_domains("astrology") == []


def test_the_directory_finds_whoever_routing_would_admit():
    physician = factories.expert(domains=("medicine",))
    cardiologist = factories.expert(domains=("medicine-cardiology",))
    oncologist = factories.expert(domains=("medicine-oncology",))
    suspended = factories.expert(domains=("medicine-cardiology",))
    suspend(suspended, "medicine-cardiology")
    factories.expert(domains=("law-tax",))

    def found(slug: str) -> set[int]:
        experts = discovery.directory(domains=discovery.admitting_domains(slug))
        return set(experts.values_list("pk", flat=True))

    assert found("medicine") == {physician.pk, cardiologist.pk, oncologist.pk}
    assert found("medicine-cardiology") == {physician.pk, cardiologist.pk}


def test_a_parent_domain_project_is_listed_to_experts_of_its_subdomains(customer):
    strict = factories.project(customer, items=1, domain="medicine").pk
    lenient = factories.project(customer, items=1, domain="medicine",
                                require_qualification=False).pk
    oncology = factories.project(customer, items=1, domain="medicine-oncology").pk
    cardiologist = factories.expert(domains=("medicine-cardiology",))
    claimed = factories.expert(domains=("medicine-cardiology",), qualified=False)
    suspended = factories.expert(domains=("medicine-cardiology",))
    suspend(suspended, "medicine-cardiology")
    assert listed(cardiologist) == {strict, lenient}
    assert listed(claimed) == {lenient}
    assert listed(suspended) == set()
    assert oncology in listed(factories.expert(domains=("medicine",)))
