"""The expertise taxonomy that projects, qualifications and the directory refer to by slug."""

from django.db import migrations

TAXONOMY = {
    ("medicine", "Medicine"): [
        ("medicine-cardiology", "Cardiology"),
        ("medicine-oncology", "Oncology"),
        ("medicine-neurology", "Neurology"),
        ("medicine-radiology", "Radiology"),
        ("medicine-pediatrics", "Pediatrics"),
        ("medicine-psychiatry", "Psychiatry"),
        ("medicine-emergency", "Emergency medicine"),
        ("medicine-pharmacology", "Pharmacology"),
    ],
    ("law", "Law"): [
        ("law-contracts", "Contract law"),
        ("law-corporate", "Corporate law"),
        ("law-criminal", "Criminal law"),
        ("law-intellectual-property", "Intellectual property"),
        ("law-tax", "Tax law"),
    ],
    ("mathematics", "Mathematics"): [
        ("mathematics-algebra", "Algebra"),
        ("mathematics-analysis", "Analysis"),
        ("mathematics-statistics", "Statistics and probability"),
        ("mathematics-geometry", "Geometry and topology"),
    ],
    ("physics", "Physics"): [
        ("physics-quantum", "Quantum physics"),
        ("physics-astrophysics", "Astrophysics"),
        ("physics-condensed-matter", "Condensed matter"),
    ],
    ("chemistry", "Chemistry"): [
        ("chemistry-organic", "Organic chemistry"),
        ("chemistry-biochemistry", "Biochemistry"),
        ("chemistry-physical", "Physical chemistry"),
    ],
    ("biology", "Biology"): [
        ("biology-genetics", "Genetics"),
        ("biology-molecular", "Molecular biology"),
        ("biology-ecology", "Ecology"),
        ("biology-neuroscience", "Neuroscience"),
    ],
    ("finance", "Finance"): [
        ("finance-accounting", "Accounting"),
        ("finance-investment", "Investment and markets"),
        ("finance-risk", "Risk management"),
    ],
    ("software-engineering", "Software engineering"): [
        ("software-engineering-python", "Python"),
        ("software-engineering-web", "Web development"),
        ("software-engineering-systems", "Systems programming"),
        ("software-engineering-security", "Security"),
    ],
    ("data-science", "Data science"): [
        ("data-science-machine-learning", "Machine learning"),
        ("data-science-nlp", "Natural language processing"),
        ("data-science-computer-vision", "Computer vision"),
    ],
    ("linguistics", "Linguistics"): [
        ("linguistics-translation", "Translation"),
        ("linguistics-syntax", "Syntax and semantics"),
        ("linguistics-sociolinguistics", "Sociolinguistics"),
    ],
    ("economics", "Economics"): [
        ("economics-macro", "Macroeconomics"),
        ("economics-micro", "Microeconomics"),
    ],
    ("history", "History"): [
        ("history-modern", "Modern history"),
        ("history-ancient", "Ancient history"),
    ],
    ("philosophy", "Philosophy"): [
        ("philosophy-ethics", "Ethics"),
        ("philosophy-logic", "Logic"),
    ],
}


def load(apps, schema_editor):
    Domain = apps.get_model("accounts", "Domain")
    for (slug, name), children in TAXONOMY.items():
        parent, _ = Domain.objects.update_or_create(slug=slug, defaults={"name": name})
        for child_slug, child_name in children:
            Domain.objects.update_or_create(
                slug=child_slug, defaults={"name": child_name, "parent": parent})


def unload(apps, schema_editor):
    Domain = apps.get_model("accounts", "Domain")
    Domain.objects.filter(parent__isnull=False).delete()
    Domain.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
