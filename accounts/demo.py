"""The accounts part of the demo data: an operator, a customer organization with its owner
and QA lead, and fifteen verified experts with credentials and qualified domains: enough in
each demo project's domain (or the domains routing counts for it) to fill every item's
overlap with one expert to spare.

Each app's ``demo`` module has a ``seed(demo)`` step that is safe to run any number of times:
it looks its objects up by natural key and only creates or completes what is missing. The
``seed_demo`` command runs the steps of every installed app in dependency order.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model

from accounts import services
from accounts.models import Credential, Domain, Expertise, ExpertProfile, Membership, Organization

User = get_user_model()

DEMO_PASSWORD = "demo-pass-2026"
OPERATOR = "operator"
ORGANIZATION = "Acme AI"
ORG_OWNER = "acme-owner"
ORG_QA_LEAD = "acme-qa"


@dataclass
class Demo:
    """What the steps share: the password every demo user gets and the logins to print."""

    password: str = DEMO_PASSWORD
    logins: list[tuple[str, str]] = field(default_factory=list)

    def login(self, username: str, description: str) -> None:
        self.logins.append((username, description))


@dataclass(frozen=True)
class DemoExpert:
    username: str
    full_name: str
    degree: str
    field_of_study: str
    domains: tuple[str, ...]
    languages: tuple[str, ...]
    timezone: str
    hours: int
    bio: str
    institution: str
    year: int


EXPERTS = [
    DemoExpert("expert01", "Dr. Amara Okafor", "md", "Internal medicine and cardiology",
               ("medicine-cardiology", "medicine-emergency"), ("en", "fr"), "Europe/London", 15,
               "Consultant cardiologist; ten years of echocardiography and heart-failure "
               "clinics.", "University of Lagos College of Medicine", 2009),
    DemoExpert("expert02", "Dr. Lukas Brandt", "md", "Medical oncology",
               ("medicine-oncology", "medicine-pharmacology"), ("de", "en"), "Europe/Berlin",
               10, "Oncologist working on solid tumours and chemotherapy dosing guidelines.",
               "Charité Universitätsmedizin Berlin", 2011),
    DemoExpert("expert03", "Sofía Márquez", "jd", "Commercial and contract law",
               ("law-contracts", "law-corporate"), ("es", "en"), "America/Mexico_City", 20,
               "Drafts and negotiates SaaS and supply agreements for cross-border clients.",
               "Universidad Nacional Autónoma de México", 2014),
    DemoExpert("expert04", "Dr. Wei Chen", "phd", "Statistics",
               ("mathematics-statistics", "data-science-machine-learning"), ("zh", "en"),
               "Asia/Shanghai", 12, "Biostatistician: survival analysis, Bayesian trial design "
               "and causal inference.", "Tsinghua University", 2016),
    DemoExpert("expert05", "Jonas Lindqvist", "masters", "Computer science",
               ("software-engineering-python", "software-engineering-web"), ("sv", "en"),
               "Europe/Stockholm", 25, "Backend engineer; maintains Python libraries for data "
               "pipelines and reviews a lot of code.", "KTH Royal Institute of Technology", 2015),
    DemoExpert("expert06", "Dr. Aisha Rahman", "phd", "Computational linguistics",
               ("data-science-nlp", "data-science-machine-learning", "linguistics-syntax"),
               ("en", "ar", "ur"), "Asia/Dubai", 15,
               "NLP researcher on multilingual evaluation, annotation guidelines and "
               "inter-annotator agreement.", "University of Edinburgh", 2018),
    DemoExpert("expert07", "Dr. Tomasz Nowak", "phd", "Clinical pharmacology",
               ("medicine-pharmacology", "chemistry-biochemistry"), ("pl", "en"),
               "Europe/Warsaw", 8, "Studies drug interactions and pharmacokinetics in elderly "
               "patients.", "Jagiellonian University", 2013),
    DemoExpert("expert08", "Rachel Goldberg", "jd", "Intellectual property law",
               ("law-intellectual-property", "law-contracts"), ("en", "he"),
               "America/New_York", 10, "Patent litigator with a background in software "
               "licensing.", "Columbia Law School", 2012),
    DemoExpert("expert09", "Dr. Kenji Watanabe", "phd", "Machine learning",
               ("data-science-machine-learning", "data-science-computer-vision"), ("ja", "en"),
               "Asia/Tokyo", 12, "Works on reward modelling and preference learning for "
               "vision-language models.", "University of Tokyo", 2019),
    DemoExpert("expert10", "Dr. Elena Petrova", "md", "Psychiatry",
               ("medicine-psychiatry", "biology-neuroscience"), ("ru", "en"), "Europe/Vienna",
               6, "Psychiatrist focused on mood disorders and safe messaging about self-harm.",
               "Medical University of Vienna", 2010),
    DemoExpert("expert11", "David Mensah", "masters", "Accounting and taxation",
               ("finance-accounting", "law-tax"), ("en",), "Africa/Accra", 20,
               "Chartered accountant; audits mid-size firms and advises on transfer pricing.",
               "London School of Economics", 2017),
    DemoExpert("expert12", "Dr. Isabel Ferreira", "phd", "Human genetics",
               ("biology-genetics", "biology-molecular"), ("pt", "en", "es"),
               "America/Sao_Paulo", 10, "Geneticist working on variant interpretation for rare "
               "diseases.", "Universidade de São Paulo", 2015),
    DemoExpert("expert13", "Dr. Hannah Keller", "md", "Cardiology",
               ("medicine-cardiology",), ("de", "en"), "Europe/Zurich", 12,
               "Interventional cardiologist; runs a chest-pain unit and teaches ECG reading.",
               "University of Zurich", 2008),
    DemoExpert("expert14", "Dr. Rafael Costa", "md", "Internal medicine",
               ("medicine",), ("pt", "en", "es"), "Europe/Lisbon", 16,
               "General internist in a teaching hospital: the patient with five conditions "
               "and ten medicines.", "University of Lisbon", 2012),
    DemoExpert("expert15", "Dr. Mei Lin Tan", "md", "Emergency medicine",
               ("medicine-emergency", "medicine-cardiology"), ("en", "zh", "ms"),
               "Asia/Singapore", 10, "Emergency physician with a cardiology fellowship; writes "
               "the department's triage protocols.", "National University of Singapore", 2014),
]


def seed(demo: Demo) -> None:
    """The platform operator, one customer organization with a QA lead, and verified experts
    qualified in their domains, so that every role has someone to log in as."""
    operator = _operator(demo)
    demo.login(OPERATOR, "platform operator (Django admin at /admin/)")
    owner = _customer_owner(demo)
    demo.login(ORG_OWNER, f"owner of {ORGANIZATION}")
    _qa_lead(demo, owner)
    demo.login(ORG_QA_LEAD, f"QA lead at {ORGANIZATION}")
    for spec in EXPERTS:
        _expert(demo, spec, operator)
        demo.login(spec.username, f"{spec.full_name}, {spec.field_of_study}")


def _operator(demo: Demo) -> User:
    operator = User.objects.filter(username=OPERATOR).first()
    if operator is None:
        operator = User.objects.create_superuser(
            username=OPERATOR, email="operator@example.com", password=demo.password)
    return operator


def _customer_owner(demo: Demo) -> User:
    owner = User.objects.filter(username=ORG_OWNER).first()
    if owner is None:
        owner = services.signup_customer(
            username=ORG_OWNER, email="owner@acme.example.com", password=demo.password,
            organization_name=ORGANIZATION).user
    return owner


def _qa_lead(demo: Demo, owner: User) -> None:
    organization = Organization.objects.get(memberships__user=owner, name=ORGANIZATION)
    qa_lead = User.objects.filter(username=ORG_QA_LEAD).first()
    if qa_lead is None:
        qa_lead = User.objects.create_user(username=ORG_QA_LEAD, email="qa@acme.example.com",
                                           password=demo.password)
    if not Membership.objects.filter(user=qa_lead, organization=organization).exists():
        services.add_member(organization=organization, actor=owner, user=qa_lead,
                            role=Membership.Role.QA_LEAD)


def _expert(demo: Demo, spec: DemoExpert, operator: User) -> None:
    domains = list(Domain.objects.filter(slug__in=spec.domains))
    profile = ExpertProfile.objects.filter(user__username=spec.username).first()
    if profile is None:
        profile = services.signup_expert(
            username=spec.username, email=f"{spec.username}@example.com",
            password=demo.password, full_name=spec.full_name, highest_degree=spec.degree,
            field_of_study=spec.field_of_study, domains=domains,
            languages=list(spec.languages), bio=spec.bio, timezone_name=spec.timezone,
            weekly_availability_hours=spec.hours)
    credential, _ = Credential.objects.get_or_create(
        expert=profile, degree=spec.degree, institution=spec.institution,
        defaults={"field": spec.field_of_study, "year": spec.year,
                  "evidence": f"https://registry.example.org/diplomas/{spec.username}"})
    if credential.status != Credential.Status.VERIFIED:
        services.review_credential(credential=credential, actor=operator,
                                   status=Credential.Status.VERIFIED,
                                   notes="Checked against the issuing registry.")
    if profile.verification != ExpertProfile.Verification.VERIFIED:
        services.set_verification(expert=profile, actor=operator,
                                  verification=ExpertProfile.Verification.VERIFIED)
    qualified = set(profile.expertise.filter(level=Expertise.Level.QUALIFIED)
                    .values_list("domain_id", flat=True))
    for domain in domains:
        if domain.pk not in qualified:
            services.qualify_expertise(expert=profile, domain=domain, score=Decimal("0.9"),
                                       source=Expertise.Source.OPERATOR)

