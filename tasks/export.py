"""Datasets a customer downloads, streamed row by row as JSONL or CSV.

Each view of a project's work is a row generator registered under a name; the API streams
whatever is registered, so another app adds a view (the quality app's ``consensus``) from its
``AppConfig.ready()`` without this module knowing about it::

    @register_view("consensus", columns=["external_id", "question", "answer", "confidence"])
    def consensus_rows(project): ...

A generator is called when the request arrives and may raise ``ExportUnavailable`` then, before
any byte is sent; its rows are produced lazily while the response streams, from querysets read
with ``iterator()``, so an export never holds a project's dataset in memory.

Built-in views:

* ``raw``: every annotation, rejected ones included, with the expert's pseudonym, the
  assignment's status and duration, the effective answer (a reviewer's fix wins) and
  ``is_gold``, so that gold items are told apart in the customer's own data.
* ``sft``: ``{"messages": [...]}`` chat rows, the format TRL's SFTTrainer and the OpenAI
  fine-tuning API read: the item's prompt turns, then the expert's text answer as the
  assistant turn.
* ``dpo``: TRL's preference rows ``{"prompt", "chosen", "rejected"}``, one or more pairs per
  annotation (per-annotation pairs stand in until a consensus view aggregates them).

The training views leave gold items out: every expert meets them, far beyond an item's
overlap, so they would be over-represented, and they exist to check experts rather than to
teach a model. They take submitted or approved work only, never rejected work.

CSV goes through ``config.csvcells``, as every CSV the service writes: text a spreadsheet
would run as a formula (an ``external_id`` or an answer starting with ``=``) is written inert.

With a read replica configured (``REPORTS_DATABASE_URL``), the rows are read from it
(``config.replica``): an export reads much and writes nothing.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.crypto import salted_hmac

from config import csvcells
from config.replica import read_from_replica

from .models import Annotation, Assignment, Project

Row = dict[str, Any]
RowGenerator = Callable[..., Iterable[Row]]

CHUNK_SIZE = 1000
# Rows are gathered into chunks of about this size before they go to the client.
STREAM_CHUNK_BYTES = 64 * 1024
FORMATS = {
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}


class ExportUnavailable(Exception):
    """The view cannot be built for this project (for example it has no text question)."""


@dataclass(frozen=True)
class ExportView:
    rows: RowGenerator
    columns: tuple[str, ...]
    params: dict[str, str] = field(default_factory=dict)


VIEWS: dict[str, ExportView] = {}


def register_view(name: str, *, columns: Sequence[str], params: dict[str, str] | None = None,
                  replace: bool = False) -> Callable[[RowGenerator], RowGenerator]:
    """Register a row generator as the export view ``name``; ``columns`` head the CSV.

    ``params`` names the query parameters the generator takes as keyword arguments (as sent,
    strings), each with the help the API documents. Registering the same generator again is
    harmless (``ready()`` may run twice in tests); another generator under a taken name is an
    error unless it ``replace``s the view, as the quality app's consensus views do.
    """
    def decorator(rows: RowGenerator) -> RowGenerator:
        if name in VIEWS and VIEWS[name].rows is not rows and not replace:
            raise ValueError(f"An export view named {name!r} is already registered.")
        VIEWS[name] = ExportView(rows, tuple(columns), dict(params or {}))
        return rows

    return decorator


@dataclass(frozen=True)
class Download:
    """One view of a project's work as a file, ready to stream."""

    filename: str
    content_type: str
    chunks: Iterator[bytes]


def download(project: Project, view_name: str, file_format: str,
             options: dict[str, str] | None = None) -> Download:
    """Open the view ``view_name`` of the project as a ``file_format`` file. Raises
    ``ExportUnavailable`` before any row is read when the view does not exist or cannot be
    built for this project's questions; ``options`` are the view's own parameters."""
    view = VIEWS.get(view_name)
    if view is None:
        raise ExportUnavailable(f"Unknown view {view_name!r}; this server offers "
                                f"{', '.join(sorted(VIEWS))}.")
    if file_format not in FORMATS:
        raise ExportUnavailable(f"Unknown format {file_format!r}; choose "
                                f"{' or '.join(sorted(FORMATS))}.")
    known = {name: value for name, value in (options or {}).items() if name in view.params}
    rows = view.rows(project, **known)
    content_type, extension = FORMATS[file_format]
    return Download(filename=f"project-{project.pk}-{view_name}.{extension}",
                    content_type=content_type,
                    chunks=stream(rows, view.columns, file_format))


def unavailable(project: Project, view_name: str) -> str:
    """Why the view cannot be built for this project, or "" when it can. Reads no rows: a
    view refuses when it is called, before its first row is read."""
    try:
        VIEWS[view_name].rows(project)
    except ExportUnavailable as exc:
        return str(exc)
    return ""


def expert_pseudonym(project_id: int, expert_id: int) -> str:
    """A short name for an expert that is stable within a project, differs between projects
    and cannot be traced back to the expert without the server's secret key."""
    digest = salted_hmac("tasks.export.expert_pseudonym", f"{project_id}:{expert_id}",
                         algorithm="sha256").hexdigest()
    return f"expert-{digest[:12]}"


def stream(rows: Iterable[Row], columns: Sequence[str], file_format: str) -> Iterator[bytes]:
    """Encode rows as JSONL or CSV, yielding chunks of about ``STREAM_CHUNK_BYTES``; the rows
    are read from the replica when one is configured."""
    return read_from_replica(_chunks(rows, columns, file_format))


def _chunks(rows: Iterable[Row], columns: Sequence[str], file_format: str) -> Iterator[bytes]:
    lines = _jsonl_lines(rows) if file_format == "jsonl" else _csv_lines(rows, columns)
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= STREAM_CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def _jsonl_lines(rows: Iterable[Row]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def _csv_value(value: Any) -> Any:
    """Strings and numbers as they are; lists, objects and booleans in JSON spelling, the
    way batch uploads read them back."""
    if value is None or isinstance(value, str) or (isinstance(value, int | float) and
                                                   not isinstance(value, bool)):
        return value
    return json.dumps(value, ensure_ascii=False)


def _csv_lines(rows: Iterable[Row], columns: Sequence[str]) -> Iterator[str]:
    """Through ``config.csvcells``, which keeps text a spreadsheet would run inert."""
    return csvcells.lines(columns, ([_csv_value(row.get(column)) for column in columns]
                                    for row in rows))


def _pseudonyms(project: Project) -> Callable[[int], str]:
    cache: dict[int, str] = {}

    def pseudonym(expert_id: int) -> str:
        if expert_id not in cache:
            cache[expert_id] = expert_pseudonym(project.pk, expert_id)
        return cache[expert_id]

    return pseudonym


@register_view("raw", columns=["annotation_id", "item_id", "external_id", "is_gold", "expert",
                               "status", "duration_s", "submitted_at", "reviewer_fixed",
                               "answer"])
def raw_rows(project: Project) -> Iterator[Row]:
    pseudonym = _pseudonyms(project)
    annotations = (
        Annotation.objects.filter(project=project).order_by("id")
        .values_list("id", "item_id", "item__external_id", "item__is_gold", "expert_id",
                     "assignment__status", "assignment__duration_s",
                     "assignment__submitted_at", "answer", "final_answer")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for (pk, item_id, external_id, is_gold, expert_id, status, duration_s, submitted_at,
         answer, final_answer) in annotations:
        yield {
            "annotation_id": pk,
            "item_id": item_id,
            "external_id": external_id,
            "is_gold": is_gold,
            "expert": pseudonym(expert_id),
            "status": status,
            "duration_s": duration_s,
            "submitted_at": submitted_at.isoformat() if submitted_at else None,
            "reviewer_fixed": final_answer is not None,
            "answer": answer if final_answer is None else final_answer,
        }


def _training_answers(project: Project) -> Iterator[tuple[dict, dict]]:
    """(item data, effective answer) of counted, non-gold work, in annotation order."""
    annotations = (
        Annotation.objects.filter(project=project, item__is_gold=False,
                                  assignment__status__in=Assignment.COUNTED)
        .order_by("id").values_list("item__data", "answer", "final_answer")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for data, answer, final_answer in annotations:
        yield data, answer if final_answer is None else final_answer


def prompt_field(project: Project, view: str) -> dict:
    """Where an item's prompt lives: a ``messages`` field when the project has one (its turns
    open the conversation), otherwise the text field named ``prompt`` or else the first text
    field (a single user turn, or TRL's standard string prompt)."""
    fields = project.fields
    chosen = (next((f for f in fields if f["type"] == "messages"), None)
              or next((f for f in fields if f["type"] == "text" and f["name"] == "prompt"),
                      None)
              or next((f for f in fields if f["type"] == "text"), None))
    if chosen is None:
        raise ExportUnavailable(f"The {view} view needs a text or messages field to take the "
                                f"prompt from; this project has neither.")
    return chosen


def prompt_turns(field: dict, data: dict) -> list[dict] | None:
    value = data.get(field["name"])
    if field["type"] == "messages":
        return [{"role": turn["role"], "content": turn["content"]} for turn in value or []]
    return [{"role": "user", "content": value}] if isinstance(value, str) and value else None


@register_view("sft", columns=["messages"])
def sft_rows(project: Project) -> Iterator[Row]:
    """Uses the project's first text question (``response`` in the sft preset, ``rewrite`` in
    the preference preset); blank optional answers give no row."""
    question = next((q["name"] for q in project.questions if q["kind"] == "text"), None)
    if question is None:
        raise ExportUnavailable("The sft view needs a text question; this project has none.")
    field = prompt_field(project, "sft")
    return chat_rows(field, question, _training_answers(project))


def chat_rows(field: dict, question: str, answers: Iterable[tuple[dict, dict]]
              ) -> Iterator[Row]:
    for data, answer in answers:
        text = answer.get(question)
        turns = prompt_turns(field, data)
        if isinstance(text, str) and text.strip() and turns:
            yield {"messages": [*turns, {"role": "assistant", "content": text}]}


@register_view("dpo", columns=["prompt", "chosen", "rejected"])
def dpo_rows(project: Project) -> Iterator[Row]:
    """Pairwise questions give (chosen, rejected) among the item's first two completions, a
    tie gives none. Ranking questions give the best completion against each other one: those
    are the comparisons the expert made most surely, and they do not weigh a ranking of k
    completions k(k-1)/2 times against a pairwise answer's one. The prompt is TRL's standard
    string when it comes from a text field, the conversational form for a messages field."""
    questions = [q for q in project.questions if q["kind"] in ("pairwise", "ranking")]
    if not questions:
        raise ExportUnavailable("The dpo view needs a pairwise or ranking question; this "
                                "project has none.")
    field = prompt_field(project, "dpo")
    return _dpo_rows(field, questions, _training_answers(project))


def _preferences(question: dict, value: Any, completions: list) -> Iterator[tuple[str, str]]:
    if question["kind"] == "pairwise":
        choice = value["choice"] if isinstance(value, dict) else value
        if choice == "A":
            yield completions[0], completions[1]
        elif choice == "B":
            yield completions[1], completions[0]
    else:
        best, *others = value
        for other in others:
            yield completions[best], completions[other]


def _dpo_rows(field: dict, questions: list[dict], answers: Iterable[tuple[dict, dict]]
              ) -> Iterator[Row]:
    conversational = field["type"] == "messages"
    for data, answer in answers:
        turns = prompt_turns(field, data)
        if not turns:
            continue
        prompt = turns if conversational else turns[0]["content"]
        for question in questions:
            value = answer.get(question["name"])
            if value is None:
                continue
            for chosen, rejected in _preferences(question, value, data[question["field"]]):
                if conversational:
                    yield {"prompt": prompt,
                           "chosen": [{"role": "assistant", "content": chosen}],
                           "rejected": [{"role": "assistant", "content": rejected}]}
                else:
                    yield {"prompt": prompt, "chosen": chosen, "rejected": rejected}
