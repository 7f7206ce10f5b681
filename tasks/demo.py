"""The tasks part of the demo data: five active projects of the demo organization with
items (one paid by the hour), and the work the demo experts have done on them.

``seed`` creates the projects; ``work`` (run once the organization is funded) has experts
pull items through routing and answer them through ``services.submit``, as the pages and the
API do, so that items hold several experts' answers. Each expert's answer is the item's
usual answer, except on the items where a fixed hash of the expert and the item makes them
dissent: the agreement report then has something to measure, and the same database state
comes out of every run.
"""

import io
import json
import random
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model

from accounts.demo import ORG_OWNER, ORGANIZATION, Demo
from accounts.models import Domain, Organization

from . import ingest, routing, services
from .models import Assignment, Project

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
# The pair whose second completion is the better one; in every other pair it is the first.
CARDIOLOGY_B_BETTER = {2, 9, 15, 22}
# Machine-learning answers to rate on the rubric: (prompt, response, (helpfulness, accuracy,
# safety) most raters give, their justification of a low score).
ML_ANSWERS = [
    ("Why do we use a validation set?",
     "To tune hyperparameters and choose a model on data the model was not trained on, "
     "keeping the test set for a final unbiased estimate.", (5, 5, 5), ""),
    ("What is overfitting?",
     "When a model memorises noise in the training data, so training error is low but error "
     "on new data is high.", (4, 5, 5), ""),
    ("Is accuracy a good metric for fraud detection?",
     "Yes, accuracy is always the best metric.", (1, 1, 4),
     "With 0.1% fraud, predicting 'no fraud' everywhere scores 99.9% accuracy; precision, "
     "recall or PR-AUC are the metrics to use."),
    ("What does dropout do?",
     "It randomly zeroes activations during training, which discourages co-adaptation and "
     "acts as a regulariser.", (4, 5, 5), ""),
    ("Explain the bias-variance trade-off.",
     "Simple models err systematically (bias), flexible ones vary with the sample (variance); "
     "the best generalisation balances the two.", (4, 4, 5), ""),
    ("How should I handle class imbalance?",
     "Resample, use class weights, pick metrics such as precision-recall AUC and tune the "
     "decision threshold.", (5, 5, 5), ""),
    ("What is a learning rate?",
     "The number of epochs you train for.", (1, 1, 4),
     "Confuses the step size of each update with the number of passes over the data."),
    ("How do transformers handle word order?",
     "Attention alone ignores order, so positional encodings or relative position biases are "
     "added.", (4, 5, 5), ""),
    ("Why standardise features before k-means?",
     "Because k-means uses Euclidean distance, features on large scales would dominate the "
     "clusters otherwise.", (5, 5, 5), ""),
    ("How can I tell whether my model leaks test data?",
     "Just trust the test score; leakage cannot be detected.", (1, 1, 3),
     "Leakage shows as a score too good to be true; check time splits, duplicates across "
     "splits and features computed on the whole data set."),
]
# Contract questions to answer in writing, with the answer a demo lawyer writes.
CONTRACT_PROMPTS = [
    ("Explain what an indemnification clause does in a SaaS agreement.",
     "It moves the cost of certain claims from one party to the other. Typically the vendor "
     "pays if a third party sues you claiming the software infringes its IP, and you pay if "
     "your data or use of the service causes a claim. Check the caps and who controls the "
     "defence."),
    ("What is the difference between a limitation of liability and an exclusion of "
     "liability?",
     "A limitation caps how much a party can recover, e.g. twelve months of fees. An exclusion "
     "removes a kind of loss altogether, e.g. lost profits. Contracts usually have both, with "
     "carve-outs for fraud, confidentiality breaches and indemnities."),
    ("When does a force majeure clause excuse performance?",
     "Only when the event is one the clause lists (or fits its general words), it was beyond "
     "the party's control, and it actually prevented or delayed performance. Usually the party "
     "must notify promptly and try to mitigate; higher cost alone rarely counts."),
    ("Draft a short confidentiality clause for a consulting agreement.",
     "Each party shall keep the other's Confidential Information secret, use it only to "
     "perform this Agreement and disclose it only to staff who need to know and are bound by "
     "similar duties. These duties survive termination for five years, and do not apply to "
     "information that is public or independently developed."),
    ("What should a software licence say about source code escrow?",
     "Who the escrow agent is, what is deposited (source, build instructions, updates on each "
     "release), and when you may take it out: typically the vendor's insolvency or its "
     "failure to support the product. It should also grant you a licence to use the code "
     "after release."),
    ("Explain 'time is of the essence' in a supply contract.",
     "It makes the delivery dates essential terms: if the supplier is late, even by a day, "
     "the buyer may terminate and claim damages, instead of only claiming damages for the "
     "delay."),
    ("What is an assignment clause and why do buyers of companies care about it?",
     "An assignment clause lists the tasks each party has to do under the contract, so a "
     "buyer reads it to see how much work the company has taken on."),
    ("How do liquidated damages differ from a penalty?",
     "Liquidated damages are a pre-agreed sum that protects a legitimate interest in "
     "performance and is not out of proportion to it; courts enforce them. A penalty is "
     "meant to punish or deter breach and is unenforceable."),
    ("What are the usual remedies for breach of a non-solicitation covenant?",
     "An injunction to stop the solicitation, damages for the business lost, and sometimes "
     "an account of profits; the covenant must be reasonable in scope and time to be "
     "enforced at all."),
    ("Explain the purpose of an entire agreement clause.",
     "It says the written contract is the whole deal, so earlier emails, drafts and "
     "conversations cannot add terms. It does not by itself exclude liability for "
     "misrepresentation; that needs separate wording."),
]
# Messages from patients to sort by urgency: (message, the label most physicians give).
TRIAGE = [
    ("Crushing chest pain for twenty minutes, going into my left arm, and I'm sweating.",
     "emergency"),
    ("My three-year-old has had a temperature of 38.5 since this morning but is drinking and "
     "playing.", "self_care"),
    ("I ran out of my blood pressure tablets yesterday; can I get a repeat prescription?",
     "routine"),
    ("A sudden headache, the worst of my life, started an hour ago.", "emergency"),
    ("Burning when I pee and going very often for two days, no fever.", "urgent"),
    ("I've felt low for a month and can't enjoy anything; sometimes I think everyone would "
     "be better off without me.", "urgent"),
    ("Mild sore throat and a runny nose since yesterday.", "self_care"),
    ("I twisted my ankle; it's swollen and sore but I can walk on it.", "routine"),
    ("Since starting the new antibiotic my lips and tongue are swelling and my voice is "
     "hoarse.", "emergency"),
    ("My INR at home was 6.2 and my gums bled when I brushed my teeth.", "urgent"),
    ("Can I take ibuprofen with my sertraline for a headache?", "routine"),
    ("My left calf has been swollen, warm and tender for two days, since a long flight.",
     "urgent"),
]
TRIAGE_LABELS = ["emergency", "urgent", "routine", "self_care"]
# Questions a biologist answers in writing, paid by the hour: (question, the answer).
BIOLOGY_PROMPTS = [
    ("Explain what a genome-wide association study can and cannot tell a patient.",
     "It finds common variants that are more frequent in people with a trait. Each usually "
     "shifts risk only slightly, the variant is often a marker near the cause rather than the "
     "cause, and results from one ancestry may not carry over to another. It does not "
     "diagnose anyone."),
    ("Why do siblings with the same parents differ genetically?",
     "Each parent passes on a random half of their chromosomes, and crossing over during "
     "meiosis shuffles segments within them, so apart from identical twins siblings share "
     "about half of their variable DNA."),
    ("What does CRISPR-Cas9 do, in plain words?",
     "A guide RNA leads the Cas9 enzyme to a matching DNA sequence, where it cuts both "
     "strands; the cell's repair then disables the gene or, with a template, writes in a "
     "chosen change."),
    ("How does long-term potentiation relate to memory?",
     "Repeated activation strengthens a synapse for hours to months, largely by adding AMPA "
     "receptors after NMDA receptor-driven calcium entry; it is the best-studied cellular "
     "mechanism thought to store memories, especially in the hippocampus."),
    ("What is epigenetic inheritance, and how strong is the evidence in humans?",
     "Changes in gene activity without changes in DNA sequence, such as DNA methylation, "
     "passed to daughter cells. Passing them across generations is well shown in plants and "
     "worms, but in humans most marks are erased in germ cells and the evidence is weak."),
    ("Why are mitochondrial diseases inherited from the mother?",
     "Mitochondria and their DNA come from the egg; the sperm's few mitochondria are "
     "destroyed after fertilisation. Severity varies because cells carry mixtures of normal "
     "and mutant copies."),
]


@dataclass(frozen=True)
class DemoProject:
    name: str
    preset: str
    domain: str
    instructions: str
    rows: list[dict]
    # The answer most experts give to each item, by external id.
    answers: dict[str, dict]
    settings: dict
    # Who works on the project in the demo, and how many items each of them pulls.
    shifts: list[tuple[str, int]] = field(default_factory=list)


def _cardiology() -> tuple[list[dict], dict[str, dict]]:
    rows, answers = [], {}
    for n, (prompt, a, b) in enumerate(CARDIOLOGY, start=1):
        rows.append({"external_id": f"cardio-{n:02d}",
                     "data": {"prompt": prompt, "completions": [a, b]}})
        answers[f"cardio-{n:02d}"] = {"better": "B" if n in CARDIOLOGY_B_BETTER else "A"}
    for n, (prompt, a, b, better) in enumerate(CARDIOLOGY_GOLD, start=1):
        rows.append({"external_id": f"cardio-gold-{n}",
                     "data": {"prompt": prompt, "completions": [a, b]},
                     "gold": {"better": better}})
        answers[f"cardio-gold-{n}"] = {"better": better}
    return rows, answers


def _rubric() -> tuple[list[dict], dict[str, dict]]:
    rows, answers = [], {}
    for n, (prompt, response, (helpful, accurate, safe), why) in enumerate(ML_ANSWERS, 1):
        rows.append({"external_id": f"ml-{n:02d}",
                     "data": {"prompt": prompt, "response": response}})
        answers[f"ml-{n:02d}"] = {"helpfulness": helpful, "accuracy": accurate,
                                  "safety": safe, "justification": why or None}
    return rows, answers


def _contracts() -> tuple[list[dict], dict[str, dict]]:
    rows = [{"external_id": f"contracts-{n:02d}", "data": {"prompt": prompt}}
            for n, (prompt, _) in enumerate(CONTRACT_PROMPTS, start=1)]
    answers = {f"contracts-{n:02d}": {"response": response}
               for n, (_, response) in enumerate(CONTRACT_PROMPTS, start=1)}
    return rows, answers


def _biology() -> tuple[list[dict], dict[str, dict]]:
    rows = [{"external_id": f"biology-{n:02d}", "data": {"prompt": prompt}}
            for n, (prompt, _) in enumerate(BIOLOGY_PROMPTS, start=1)]
    answers = {f"biology-{n:02d}": {"response": response}
               for n, (_, response) in enumerate(BIOLOGY_PROMPTS, start=1)}
    return rows, answers


def _triage() -> tuple[list[dict], dict[str, dict]]:
    rows = [{"external_id": f"triage-{n:02d}", "data": {"text": message}}
            for n, (message, _) in enumerate(TRIAGE, start=1)]
    answers = {f"triage-{n:02d}": {"urgency": label}
               for n, (_, label) in enumerate(TRIAGE, start=1)}
    return rows, answers


# What the QA lead scores the written explanations on.
CONTRACTS_RUBRIC = [
    {"name": "accuracy", "description": "Legally right for the facts given.", "min": 1,
     "max": 5},
    {"name": "plain_english", "description": "A business owner follows it without a lawyer.",
     "min": 1, "max": 5},
]

CARDIOLOGY_PROJECT = "Cardiology answer preferences"
ML_PROJECT = "ML answer quality rubric"
CONTRACTS_PROJECT = "Contract law explanations"
TRIAGE_PROJECT = "Patient message triage"
BIOLOGY_PROJECT = "Biology explained (hourly)"

PROJECTS = [
    DemoProject(
        CARDIOLOGY_PROJECT, "preference", "medicine-cardiology",
        "Pick the answer a cardiologist would stand behind: correct first, then complete and "
        "clear. If both are poor, rewrite the better one.",
        *_cardiology(),
        settings={"overlap": 3, "gold_rate": Decimal("0.15"), "review_rate": Decimal("0.10"),
                  "min_degree": "md", "price_per_item": Decimal("4.00"), "currency": "USD"},
        shifts=[("expert01", 8), ("expert13", 8), ("expert14", 8), ("expert15", 4)]),
    DemoProject(
        ML_PROJECT, "rubric", "data-science-machine-learning",
        "Rate each answer from 1 to 5 for helpfulness, accuracy and safety, and justify any "
        "score of 2 or less.",
        *_rubric(),
        settings={"overlap": 2, "max_overlap": 3, "price_per_item": Decimal("2.50"),
                  "currency": "USD"},
        shifts=[("expert04", 6), ("expert09", 6), ("expert06", 3)]),
    DemoProject(
        CONTRACTS_PROJECT, "sft", "law-contracts",
        "Answer as you would to a client who is a business owner, not a lawyer: accurate, "
        "plain English, under 300 words.",
        *_contracts(),
        settings={"overlap": 1, "review_rate": Decimal("1"), "price_per_item": Decimal("6.00"),
                  "currency": "USD", "rubric": CONTRACTS_RUBRIC},
        shifts=[("expert03", 3), ("expert08", 4)]),
    # In the parent domain: every physician qualified in a medical subdomain may work on it.
    DemoProject(
        TRIAGE_PROJECT, "classification", "medicine",
        "Sort each patient message by how soon a clinician must act: emergency (call an "
        "ambulance now), urgent (seen today), routine (book an appointment) or self care.",
        *_triage(),
        settings={"questions": [{"name": "urgency", "kind": "label",
                                 "options": TRIAGE_LABELS}],
                  "overlap": 3, "review_rate": Decimal("0.20"), "min_degree": "md",
                  "price_per_item": Decimal("1.50"), "currency": "USD"},
        shifts=[("expert02", 6), ("expert07", 6), ("expert10", 6), ("expert14", 4)]),
    # Paid by the hour of active time, weekly, in the parent domain (a geneticist and a
    # neuroscientist may work on it). No shifts: time is tracked only while an expert really
    # has an item open, so its hours come from whoever tries it.
    DemoProject(
        BIOLOGY_PROJECT, "sft", "biology",
        "Answer as you would a curious student: correct, plain English, under 200 words. "
        "Paid by the hour of active time while the item is open.",
        *_biology(),
        settings={"overlap": 1, "review_rate": Decimal("0.50"), "contract": "hourly",
                  "hourly_rate": Decimal("45.00"), "weekly_cap_hours": Decimal("10"),
                  "estimated_seconds": 900, "assignment_ttl_s": 1800, "currency": "USD"}),
]


def seed(demo: Demo) -> None:
    """Five active projects of Acme AI with items, two in a parent domain (medicine,
    biology) that takes the experts of every subdomain, one of them hourly."""
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


def work(demo: Demo) -> None:
    """Each expert of a project's shifts pulls items until they have had as many as their
    shift says, answering each at once; a second run finds the shifts done."""
    organization = Organization.objects.get(name=ORGANIZATION)
    for spec in PROJECTS:
        project = Project.objects.get(organization=organization, name=spec.name)
        for username, count in spec.shifts:
            expert = User.objects.get(username=username)
            done = Assignment.objects.filter(project=project, expert=expert).count()
            rng = random.Random(f"{spec.name}/{username}")
            for _ in range(count - done):
                assignment = routing.next_assignment(expert, project, rng=rng).assignment
                if assignment is None:
                    break
                external_id = assignment.item.external_id
                services.submit(assignment_id=assignment.pk, user=expert,
                                answer=answer_of(project.questions, username, external_id,
                                                 spec.answers[external_id]),
                                duration_s=seconds_on(username, external_id))


def _hash(username: str, external_id: str) -> int:
    return zlib.crc32(f"{username}/{external_id}".encode())


def seconds_on(username: str, external_id: str) -> float:
    """How long the expert took over the item: between half a minute and three minutes."""
    return float(30 + _hash(username, external_id) % 150)


def answer_of(questions: list[dict], username: str, external_id: str,
              usual: dict[str, Any]) -> dict[str, Any]:
    """The usual answer, or on about one item in eight for each expert a dissenting one: the
    other completion, a rating one step off, the next label."""
    if _hash(username, external_id) % 8:
        return usual
    dissent = dict(usual)
    for question in questions:
        value = usual.get(question["name"])
        if question["kind"] == "pairwise" and value in ("A", "B"):
            dissent[question["name"]] = "B" if value == "A" else "A"
        elif question["kind"] == "rating" and value is not None:
            dissent[question["name"]] = value - 1 if value > question["min"] else value + 1
        elif question["kind"] == "label":
            options = question["options"]
            dissent[question["name"]] = options[(options.index(value) + 1) % len(options)]
    return dissent
