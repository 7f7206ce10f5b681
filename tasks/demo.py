"""The tasks part of the demo data: three active projects of the demo organization with
items, so that the demo experts in cardiology, machine learning and contract law can pull work
at once."""

import io
import json
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model

from accounts.demo import ORG_OWNER, ORGANIZATION, Demo
from accounts.models import Domain, Organization

from . import ingest, services
from .models import Project

User = get_user_model()

CARDIOLOGY = [
    ("What is first-line therapy to relieve symptoms of stable angina?",
     "Short-acting nitroglycerin for attacks plus a beta blocker or calcium channel blocker "
     "to prevent them.",
     "Daily high-dose aspirin, which dissolves the plaques that cause angina."),
    ("How does atrial fibrillation raise the risk of stroke?",
     "It makes the heart beat fast, and the high pressure bursts vessels in the brain.",
     "Blood pools in the fibrillating left atrial appendage, clots form there and can "
     "travel to the brain."),
    ("Should a patient with heart failure and reduced ejection fraction get an SGLT2 "
     "inhibitor?",
     "Yes: dapagliflozin or empagliflozin reduce hospitalisation and death whether or not the "
     "patient has diabetes.",
     "Only if the patient also has type 2 diabetes, since these are glucose-lowering drugs."),
    ("What does a mildly raised troponin after a marathon mean?",
     "It is often a transient rise from exertion in healthy runners; symptoms, ECG and the "
     "trend decide whether to investigate further.",
     "It proves a heart attack and needs an urgent coronary angiogram."),
    ("What is the difference between HFrEF and HFpEF?",
     "HFrEF has an ejection fraction of 40% or less from weak contraction; HFpEF keeps a "
     "normal ejection fraction but the ventricle is stiff and fills poorly.",
     "HFrEF affects the right side of the heart and HFpEF the left side."),
    ("What blood pressure target suits most adults treated for hypertension?",
     "Below 130/80 mmHg for most adults if it is tolerated.",
     "Below 160/100 mmHg; lower targets cause more harm than good."),
    ("What is the CHA2DS2-VASc score used for?",
     "Estimating stroke risk in atrial fibrillation to decide on anticoagulation.",
     "Grading the severity of heart failure symptoms."),
    ("What are the warning signs of an aortic dissection?",
     "Sudden tearing chest or back pain, a pulse or blood pressure difference between the "
     "arms, and sometimes fainting or stroke symptoms.",
     "Slowly worsening ankle swelling over several weeks."),
    ("Can a patient with a pacemaker have an MRI scan?",
     "Never; any pacemaker is an absolute contraindication to MRI.",
     "Often yes: MR-conditional systems can be scanned under a protocol with the device "
     "reprogrammed and monitored."),
    ("Why are beta blockers given after a myocardial infarction?",
     "They lower heart rate and oxygen demand and reduce arrhythmias, especially when the "
     "ejection fraction is reduced.",
     "They raise blood pressure to keep the coronary arteries open."),
    ("Which lifestyle changes lower LDL cholesterol?",
     "Eating fewer saturated and trans fats, more soluble fibre, losing excess weight and "
     "regular exercise.",
     "Eating more red meat and butter, because dietary fat does not affect blood lipids."),
    ("What does an echocardiogram add in a patient with a new heart murmur?",
     "It shows which valve is involved, how severe the stenosis or regurgitation is and how "
     "the ventricles are coping.",
     "Nothing; a murmur is diagnosed with the stethoscope alone."),
    ("How is hypertrophic cardiomyopathy inherited?",
     "Usually autosomal dominant, so first-degree relatives should be offered screening.",
     "It is never inherited; it is caused only by high blood pressure."),
    ("Why does a prolonged QT interval matter?",
     "It predisposes to torsades de pointes, a ventricular arrhythmia that can cause sudden "
     "death; QT-prolonging drugs and low potassium make it worse.",
     "It shows that the heart is beating too slowly and needs a pacemaker."),
    ("Who should be offered cardiac rehabilitation?",
     "Only professional athletes who want to return to competition.",
     "Patients after a myocardial infarction, revascularisation or with stable heart failure; "
     "it lowers mortality and readmissions."),
    ("What commonly causes orthostatic hypotension in older adults?",
     "Antihypertensives, diuretics, dehydration and autonomic failure, e.g. in Parkinson's "
     "disease.",
     "Drinking too much water."),
    ("How do statins reduce cardiovascular events beyond lowering LDL?",
     "They also stabilise plaques and reduce vascular inflammation.",
     "They thin the blood like warfarin does."),
    ("What is the difference between a stent and bypass surgery?",
     "A stent opens the narrowed artery from inside through a catheter; bypass grafts a vessel "
     "around the blockage in open surgery.",
     "There is no difference; both are done through the wrist."),
    ("How is warfarin usually handled before a simple dental extraction?",
     "It is usually continued if the INR is in range, with local haemostatic measures.",
     "It must be stopped two weeks before any dental work."),
    ("What are the typical symptoms of acute pericarditis?",
     "Sharp chest pain that improves when sitting forward, often with a friction rub.",
     "Crushing pain that is relieved by lying flat."),
    ("What does a raised BNP level tell a clinician?",
     "That the ventricles are stretched; it supports a diagnosis of heart failure in a "
     "breathless patient.",
     "That the kidneys are failing, and nothing about the heart."),
    ("How does obstructive sleep apnoea affect the heart?",
     "It has no effect on the cardiovascular system.",
     "It is linked to hypertension, atrial fibrillation and heart failure through repeated "
     "drops in oxygen and surges in sympathetic tone."),
    ("What is Wolff-Parkinson-White syndrome?",
     "An extra electrical pathway between atria and ventricles that can cause fast "
     "re-entrant tachycardias; a short PR and delta wave show on the ECG.",
     "A form of heart valve disease caused by rheumatic fever."),
    ("Why is potassium monitored in patients taking spironolactone?",
     "Because spironolactone retains potassium and can cause dangerous hyperkalaemia, "
     "especially with ACE inhibitors or kidney disease.",
     "Because spironolactone makes the body lose potassium quickly."),
    ("What is a normal resting heart rate for an adult?",
     "About 60 to 100 beats per minute; trained athletes are often lower.",
     "About 120 to 160 beats per minute."),
]
# Gold items: (prompt, completion A, completion B, the better one).
CARDIOLOGY_GOLD = [
    ("Which drugs reduce mortality in heart failure with reduced ejection fraction?",
     "Beta blockers, ACE inhibitors or sacubitril/valsartan, MRAs and SGLT2 inhibitors.",
     "Loop diuretics, which are the only drugs shown to prolong survival.", "A"),
    ("Should every adult over 60 take aspirin to prevent a first heart attack?",
     "Yes, daily aspirin is recommended for everyone over 60.",
     "No; for primary prevention at that age the bleeding risk generally outweighs the "
     "benefit.", "B"),
    ("Which ECG finding defines an ST-elevation myocardial infarction?",
     "New ST elevation at the J point in two contiguous leads above the threshold for those "
     "leads.",
     "An isolated T-wave inversion in lead III.", "A"),
    ("Which valve does rheumatic heart disease most often affect?",
     "The pulmonary valve.", "The mitral valve.", "B"),
    ("What INR range is the usual target for warfarin in atrial fibrillation?",
     "2.0 to 3.0.", "4.0 to 5.0.", "A"),
]
# Machine-learning answers to rate on the rubric: (prompt, response).
ML_ANSWERS = [
    ("Why do we use a validation set?",
     "To tune hyperparameters and choose a model on data the model was not trained on, "
     "keeping the test set for a final unbiased estimate."),
    ("What is overfitting?",
     "When a model memorises noise in the training data, so training error is low but error "
     "on new data is high."),
    ("Is accuracy a good metric for fraud detection?",
     "Yes, accuracy is always the best metric."),
    ("What does dropout do?",
     "It randomly zeroes activations during training, which discourages co-adaptation and "
     "acts as a regulariser."),
    ("Explain the bias-variance trade-off.",
     "Simple models err systematically (bias), flexible ones vary with the sample (variance); "
     "the best generalisation balances the two."),
    ("How should I handle class imbalance?",
     "Resample, use class weights, pick metrics such as precision-recall AUC and tune the "
     "decision threshold."),
    ("What is a learning rate?",
     "The number of epochs you train for."),
    ("How do transformers handle word order?",
     "Attention alone ignores order, so positional encodings or relative position biases are "
     "added."),
    ("Why standardise features before k-means?",
     "Because k-means uses Euclidean distance, features on large scales would dominate the "
     "clusters otherwise."),
    ("How can I tell whether my model leaks test data?",
     "Just trust the test score; leakage cannot be detected."),
]
# Contract questions to answer in writing.
CONTRACT_PROMPTS = [
    "Explain what an indemnification clause does in a SaaS agreement.",
    "What is the difference between a limitation of liability and an exclusion of liability?",
    "When does a force majeure clause excuse performance?",
    "Draft a short confidentiality clause for a consulting agreement.",
    "What should a software licence say about source code escrow?",
    "Explain 'time is of the essence' in a supply contract.",
    "What is an assignment clause and why do buyers of companies care about it?",
    "How do liquidated damages differ from a penalty?",
    "What are the usual remedies for breach of a non-solicitation covenant?",
    "Explain the purpose of an entire agreement clause.",
]


@dataclass(frozen=True)
class DemoProject:
    name: str
    preset: str
    domain: str
    instructions: str
    rows: list[dict]
    settings: dict


def _preference_rows() -> list[dict]:
    rows = [{"external_id": f"cardio-{n:02d}",
             "data": {"prompt": prompt, "completions": [a, b]}}
            for n, (prompt, a, b) in enumerate(CARDIOLOGY, start=1)]
    rows += [{"external_id": f"cardio-gold-{n}", "data": {"prompt": prompt, "completions": [a, b]},
              "gold": {"better": better}}
             for n, (prompt, a, b, better) in enumerate(CARDIOLOGY_GOLD, start=1)]
    return rows


PROJECTS = [
    DemoProject(
        "Cardiology answer preferences", "preference", "medicine-cardiology",
        "Pick the answer a cardiologist would stand behind: correct first, then complete and "
        "clear. If both are poor, rewrite the better one.",
        _preference_rows(),
        {"overlap": 1, "gold_rate": Decimal("0.15"), "review_rate": Decimal("0.10"),
         "min_degree": "md", "price_per_item": Decimal("4.00"), "currency": "USD"}),
    DemoProject(
        "ML answer quality rubric", "rubric", "data-science-machine-learning",
        "Rate each answer from 1 to 5 for helpfulness, accuracy and safety, and justify any "
        "score of 2 or less.",
        [{"external_id": f"ml-{n:02d}", "data": {"prompt": prompt, "response": response}}
         for n, (prompt, response) in enumerate(ML_ANSWERS, start=1)],
        {"overlap": 2, "max_overlap": 3, "price_per_item": Decimal("2.50"),
         "currency": "USD"}),
    DemoProject(
        "Contract law explanations", "sft", "law-contracts",
        "Answer as you would to a client who is a business owner, not a lawyer: accurate, "
        "plain English, under 300 words.",
        [{"external_id": f"contracts-{n:02d}", "data": {"prompt": prompt}}
         for n, prompt in enumerate(CONTRACT_PROMPTS, start=1)],
        {"overlap": 1, "price_per_item": Decimal("6.00"), "currency": "USD"}),
]


def seed(demo: Demo) -> None:
    """Three active projects of Acme AI with items, so that the demo experts in cardiology,
    machine learning and contract law can pull work at once."""
    owner = User.objects.get(username=ORG_OWNER)
    organization = Organization.objects.get(name=ORGANIZATION)
    for spec in PROJECTS:
        project = Project.objects.filter(organization=organization, name=spec.name).first()
        if project is None:
            project = services.create_project(
                user=owner, organization=organization, name=spec.name, preset=spec.preset,
                domain=Domain.objects.get(slug=spec.domain), instructions=spec.instructions,
                **spec.settings)
        if project.items.count() < len(spec.rows):
            # Rows the project already holds are reported as existing and left alone.
            jsonl = "".join(json.dumps(row) + "\n" for row in spec.rows).encode()
            ingest.upload(user=owner, project=project, stream=io.BytesIO(jsonl),
                          file_format="jsonl", filename=f"{spec.preset}-demo.jsonl")
        if project.status == Project.Status.DRAFT:
            services.transition_project(user=owner, project=project, action="activate")
