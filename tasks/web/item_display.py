"""An item's fields as the work page shows them, each for what it is.

A prompt reads as prose; the entries of a text list stand side by side under the letters that
pairwise and ranking answers use (A is the first entry); a chat is a sequence of turns by
role; an agent trace is numbered steps whose tool arguments and results are pretty-printed
when they are JSON; media are embedded from their URLs; JSON is indented. Only the item's
data is read here: nothing of gold, nothing of anyone's answers.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from config import jsonvalues

from ..schema import model_fields

STEP_LABELS = {"thought": "Thought", "tool_call": "Tool call", "tool_result": "Tool result",
               "observation": "Observation", "answer": "Final answer"}


def letter(index: int) -> str:
    """The letter an entry of a text list goes by: A, B, ... Z, then its number."""
    return chr(ord("A") + index) if index < 26 else str(index + 1)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _as_json(text: str) -> str | None:
    """Tool arguments and results are often JSON in a string; indented, they can be read."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return pretty_json(jsonvalues.loads(stripped))
    except ValueError:
        return None


@dataclass(frozen=True)
class Entry:
    index: int
    letter: str
    text: str


@dataclass(frozen=True)
class Turn:
    role: str
    content: str
    name: str = ""


@dataclass(frozen=True)
class Step:
    number: int
    type: str
    label: str
    content: str
    tool: str = ""
    pretty: str | None = None


@dataclass(frozen=True)
class ShownField:
    """One field of the item: `value` as stored, plus what its type's template reads."""

    name: str
    type: str
    value: Any
    media_type: str = ""
    spans_target: bool = False
    entries: list[Entry] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    pretty: str = ""

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def element_id(self) -> str:
        return f"field-{self.name}"

    @property
    def source_id(self) -> str:
        """The element holding a span target's exact text as JSON, for character offsets."""
        return f"field-{self.name}-source"


def _turns(value: list) -> list[Turn]:
    return [Turn(turn["role"], turn["content"], str(turn.get("name") or "")) for turn in value]


def _steps(value: list) -> list[Step]:
    return [Step(number, step["type"], STEP_LABELS.get(step["type"], step["type"]),
                 step["content"], str(step.get("tool") or ""), _as_json(step["content"]))
            for number, step in enumerate(value, 1)]


def shown_fields(fields: list[dict], questions: list[dict], data: dict) -> list[ShownField]:
    """The item's fields in the project's order. A field the item leaves out is not shown,
    except one that spans are marked in, which the expert must see even when empty. The
    fields naming which model wrote each completion are never shown: comparisons are
    judged blind."""
    span_targets = {q["field"] for q in questions if q["kind"] == "spans"}
    hidden = model_fields(questions)
    shown = []
    for definition in fields:
        name, kind = definition["name"], definition["type"]
        value = data.get(name)
        target = name in span_targets
        if (value is None and not target) or name in hidden:
            continue
        extra: dict[str, Any] = {}
        if kind == "text_list":
            extra["entries"] = [Entry(n, letter(n), entry) for n, entry in enumerate(value)]
        elif kind == "messages":
            extra["turns"] = _turns(value)
        elif kind == "trace":
            extra["steps"] = _steps(value)
        elif kind == "media":
            extra["media_type"] = definition.get("media_type", "image")
        elif kind == "json":
            extra["pretty"] = pretty_json(value)
        shown.append(ShownField(name, kind, "" if value is None else value,
                                spans_target=target, **extra))
    return shown
