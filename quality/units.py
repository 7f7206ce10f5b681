"""Turn one question's annotations into agreement units with numeric codes.

Agreement statistics do not understand question kinds; they understand units (things
several annotators judged) holding values on some scale. This module is the single
place where a question kind decides what its unit and scale are, so every report
(alpha, kappa, consensus) agrees on it:

- label: one unit per item; value = option index; nominal.
- pairwise: one unit per item; signed code A = -1, tie = 0, B = +1 (nominal). With
  "strength": true the code is -s for A with strength s and +s for B, giving the
  ordinal scale A2 < A1 < tie < B1 < B2 (max strength from the question's
  "max_strength", else the largest one seen).
- rating: one unit per item; value = the integer rating; ordinal unless the question
  says "level": "interval" or "ratio" (a scale from a true zero, such as a count).
- multi_label: one unit per (item, option); value 0/1; nominal.
- ranking: one unit per (item, completion); value = rank position (0 = best); ordinal.
- spans: one unit per (item, whitespace token); value = label index with 0 = "O";
  nominal. A token takes the label of any span overlapping it; when spans overlap,
  the later one in the answer wins.
- text: no units; level "none".

Ratings are stored in long form (unit, annotator, value) so that a marketplace with
thousands of experts never has to materialise a dense annotators-by-units matrix
unless a caller asks for one.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

LEVEL_NONE = "none"
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class Units:
    """Agreement units for one question, in long form.

    `unit_idx`, `annotator_idx` and `values` are parallel, one entry per (unit,
    annotator), sorted by unit then annotator; when an annotator answered the same item
    twice the later answer is kept. `unit_item[u]` indexes `item_ids` and `unit_part[u]`
    is the option / completion / token index inside the item (0 for per-item kinds).
    `values` are numbers from `value_domain`; `value_labels` names them for reports.
    """

    kind: str
    level: str
    value_domain: np.ndarray
    value_labels: tuple[str, ...]
    annotator_ids: np.ndarray
    item_ids: np.ndarray
    unit_item: np.ndarray
    unit_part: np.ndarray
    unit_idx: np.ndarray
    annotator_idx: np.ndarray
    values: np.ndarray

    @property
    def n_units(self) -> int:
        return len(self.unit_item)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_ids)

    def matrix(self) -> np.ndarray:
        """Annotators x units reliability matrix, np.nan where an annotator gave no value.

        Needed where coder identity matters (Cohen's kappa, confusion, trust weights).
        Memory is n_annotators * n_units floats: prefer `packed()` for alpha on a
        large marketplace.
        """
        m = np.full((self.n_annotators, self.n_units), np.nan)
        m[self.annotator_idx, self.unit_idx] = self.values
        return m

    def packed(self) -> np.ndarray:
        """Slots x units matrix: each unit's values packed into the top rows, nan below.

        Krippendorff's alpha, Fleiss' kappa and percent agreement ignore who gave a
        value, so this much smaller matrix gives the same results as `matrix()`.
        """
        starts = np.searchsorted(self.unit_idx, self.unit_idx, side="left")
        slot = np.arange(len(self.unit_idx)) - starts
        rows = int(slot.max()) + 1 if len(slot) else 0
        m = np.full((rows, self.n_units), np.nan)
        m[slot, self.unit_idx] = self.values
        return m

    def codes(self) -> np.ndarray:
        """Index of each value in `value_domain`, for count tables and confusion matrices."""
        return np.searchsorted(self.value_domain, self.values)


def tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the whitespace-separated tokens of `text`."""
    return [m.span() for m in _TOKEN.finditer(text)]


def _factorize(values: list) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ids and each value's index into them, without a Python dict pass."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "iuU":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
    uniques, inverse = np.unique(arr, return_inverse=True)
    return uniques, inverse.reshape(-1)


def _lookup(table: dict, answers: Iterable, what: str) -> np.ndarray:
    try:
        return np.fromiter((table[a] for a in answers), dtype=np.int64)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{what} {exc} is not one of {list(table)}") from None


def _per_item(item_ids: np.ndarray, fields: Mapping | None, kind: str) -> list:
    if fields is None and len(item_ids):
        raise ValueError(f"{kind} questions need the per-item field mapping")
    try:
        return [fields[i] for i in item_ids]
    except KeyError as exc:
        raise ValueError(f"no field value for item {exc}") from None


# Each encoder returns (row, part, value, parts_per_item, domain, labels, level), where
# row indexes the input annotations and parts_per_item counts units per unique item.
_Encoded = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple, str]


def _encode_label(question, answers, item_inv, item_ids, fields) -> _Encoded:
    options = question.get("options") or sorted(set(answers))
    values = _lookup({o: i for i, o in enumerate(options)}, answers, "answer")
    n = len(answers)
    domain = np.arange(len(options))
    return (np.arange(n), np.zeros(n, np.int64), values, np.ones(len(item_ids), np.int64),
            domain, tuple(map(str, options)), "nominal")


def _pairwise_code(answer: Any) -> int:
    choice, strength = (
        (answer.get("choice"), answer.get("strength", 1)) if isinstance(answer, dict)
        else (answer, 1)
    )
    if choice == "tie":
        return 0
    if choice not in ("A", "B") or int(strength) < 1:
        raise ValueError(f"invalid pairwise answer {answer!r}")
    return int(strength) * (1 if choice == "B" else -1)


def _encode_pairwise(question, answers, item_inv, item_ids, fields) -> _Encoded:
    values = np.fromiter((_pairwise_code(a) for a in answers), dtype=np.int64)
    n = len(answers)
    if question.get("strength"):
        top = int(question.get("max_strength") or max(1, int(np.abs(values).max(initial=1))))
        if np.abs(values).max(initial=0) > top:
            raise ValueError(f"pairwise strength above max_strength {top}")
        domain = np.arange(-top, top + 1)
        labels = tuple(f"A{-v}" if v < 0 else f"B{v}" if v > 0 else "tie" for v in domain)
        level = "ordinal"
    else:
        if np.abs(values).max(initial=0) > 1:
            raise ValueError("pairwise strength given but the question has no strength")
        domain, labels, level = np.arange(-1, 2), ("A", "tie", "B"), "nominal"
    return (np.arange(n), np.zeros(n, np.int64), values, np.ones(len(item_ids), np.int64),
            domain, labels, level)


def _encode_rating(question, answers, item_inv, item_ids, fields) -> _Encoded:
    lo, hi = int(question["min"]), int(question["max"])
    values = np.asarray(answers, dtype=float)
    if np.any((values < lo) | (values > hi) | (values != np.round(values))):
        raise ValueError(f"ratings must be integers in [{lo}, {hi}]")
    n = len(answers)
    domain = np.arange(lo, hi + 1)
    level = question.get("level", "ordinal")
    if level not in ("ordinal", "interval", "ratio"):
        raise ValueError(f"rating level must be ordinal, interval or ratio, not {level!r}")
    return (np.arange(n), np.zeros(n, np.int64), values.astype(np.int64),
            np.ones(len(item_ids), np.int64), domain, tuple(map(str, domain)), level)


def _encode_multi_label(question, answers, item_inv, item_ids, fields) -> _Encoded:
    options = question["options"]
    k = len(options)
    n = len(answers)
    index = {o: i for i, o in enumerate(options)}
    chosen_rows = np.repeat(np.arange(n), [len(a) for a in answers])
    chosen_opts = _lookup(index, chain.from_iterable(answers), "option")
    values = np.zeros(n * k, np.int64)
    values[chosen_rows * k + chosen_opts] = 1
    return (np.repeat(np.arange(n), k), np.tile(np.arange(k), n), values,
            np.full(len(item_ids), k, np.int64), np.arange(2), ("no", "yes"), "nominal")


def _encode_ranking(question, answers, item_inv, item_ids, fields) -> _Encoded:
    n_completions = np.asarray(_per_item(item_ids, fields, "ranking"), dtype=np.int64)
    lengths = np.fromiter((len(a) for a in answers), dtype=np.int64, count=len(answers))
    if np.any(lengths != n_completions[item_inv]):
        raise ValueError("a ranking does not list every completion of its item")
    completion = np.fromiter(chain.from_iterable(answers), dtype=np.int64, count=lengths.sum())
    rows = np.repeat(np.arange(len(answers)), lengths)
    width = int(n_completions.max(initial=0))
    if np.any((completion < 0) | (completion >= np.repeat(lengths, lengths))) or (
        np.bincount(rows * max(width, 1) + completion).max(initial=0) > 1
    ):
        raise ValueError("a ranking is not a permutation of its item's completions")
    starts = np.cumsum(lengths) - lengths
    position = np.arange(len(completion)) - np.repeat(starts, lengths)
    domain = np.arange(max(width, 2))
    return (rows, completion, position, n_completions, domain,
            tuple(f"#{p + 1}" for p in domain), "ordinal")


def _encode_spans(question, answers, item_inv, item_ids, fields) -> _Encoded:
    texts = _per_item(item_ids, fields, "spans")
    labels = ("O", *question["options"])
    index = {o: i for i, o in enumerate(labels) if i}
    # Lay all item texts end to end (one gap char apart) so one searchsorted maps every
    # span of every answer onto global token numbers.
    text_len = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    char_off = np.cumsum(text_len + 1) - (text_len + 1)
    item_tokens = [tokens(t) for t in texts]
    tok_count = np.fromiter((len(t) for t in item_tokens), dtype=np.int64, count=len(texts))
    tok_off = np.cumsum(tok_count) - tok_count
    bounds = np.array(list(chain.from_iterable(item_tokens)), dtype=np.int64).reshape(-1, 2)
    item_of_tok = np.repeat(np.arange(len(texts)), tok_count)
    tok_start = bounds[:, 0] + char_off[item_of_tok]
    tok_end = bounds[:, 1] + char_off[item_of_tok]

    n = len(answers)
    per_row = tok_count[item_inv]
    row_off = np.cumsum(per_row) - per_row
    values = np.zeros(int(per_row.sum()), np.int64)

    span_row = np.repeat(np.arange(n), [len(a) for a in answers])
    flat = list(chain.from_iterable(answers))
    try:
        start = np.fromiter((s["start"] for s in flat), dtype=np.int64, count=len(flat))
        end = np.fromiter((s["end"] for s in flat), dtype=np.int64, count=len(flat))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"span without start/end: {exc}") from None
    label = _lookup(index, (s.get("label") for s in flat), "span label")
    span_item = item_inv[span_row]
    if np.any((start < 0) | (end < start) | (end > text_len[span_item])):
        raise ValueError("a span lies outside its item's text")
    g_start = start + char_off[span_item]
    g_end = end + char_off[span_item]
    first = np.searchsorted(tok_end, g_start, side="right")
    stop = np.searchsorted(tok_start, g_end, side="left")
    width = np.maximum(stop - first, 0)
    # Expand each span to the tokens it overlaps; later spans overwrite earlier ones.
    span_of = np.repeat(np.arange(len(flat)), width)
    tok = np.arange(int(width.sum())) - np.repeat(np.cumsum(width) - width, width)
    tok = tok + first[span_of]
    target = row_off[span_row[span_of]] + tok - tok_off[span_item[span_of]]
    values[target] = label[span_of]

    rows = np.repeat(np.arange(n), per_row)
    part = np.arange(len(values)) - np.repeat(row_off, per_row)
    return rows, part, values, tok_count, np.arange(len(labels)), labels, "nominal"


_ENCODERS = {
    "label": _encode_label,
    "pairwise": _encode_pairwise,
    "rating": _encode_rating,
    "multi_label": _encode_multi_label,
    "ranking": _encode_ranking,
    "spans": _encode_spans,
}


def build_units(
    annotations: Iterable[tuple[Any, Any, Any]],
    question: dict,
    fields: Mapping | None = None,
) -> Units:
    """Agreement units for one question from (item_id, annotator_id, answer) triples.

    `fields` maps item_id to the number of completions (ranking) or to the annotated
    text (spans); it is passed explicitly because those facts live on the item, not in
    the answers. Invalid answers raise ValueError rather than being dropped silently,
    since a silently shrunken sample inflates agreement.
    """
    kind = question["kind"]
    if kind != "text" and kind not in _ENCODERS:
        raise ValueError(f"unknown question kind {kind!r}")
    rows = list(annotations)
    item_ids, item_inv = _factorize([r[0] for r in rows])
    annotator_ids, ann_inv = _factorize([r[1] for r in rows])
    if kind == "text":
        empty = np.zeros(0, np.int64)
        return Units(kind, LEVEL_NONE, empty, (), annotator_ids, item_ids,
                     empty, empty, empty, empty, empty.astype(float))
    answers = [r[2] for r in rows]
    row, part, values, parts, domain, labels, level = _ENCODERS[kind](
        question, answers, item_inv, item_ids, fields
    )

    item_off = np.cumsum(parts) - parts
    unit = item_off[item_inv[row]] + part
    ann = ann_inv[row]
    # Keep the last answer per (unit, annotator): unique on the reversed keys finds it.
    key = unit * len(annotator_ids) + ann
    _, last = np.unique(key[::-1], return_index=True)
    keep = len(key) - 1 - last
    n_units = int(parts.sum())
    return Units(
        kind=kind,
        level=level,
        value_domain=domain,
        value_labels=labels,
        annotator_ids=annotator_ids,
        item_ids=item_ids,
        unit_item=np.repeat(np.arange(len(item_ids)), parts),
        unit_part=np.arange(n_units) - np.repeat(item_off, parts),
        unit_idx=unit[keep],
        annotator_idx=ann[keep],
        values=values[keep].astype(float),
    )


def is_answer(value: Any, kind: str) -> bool:
    """Whether a value answers a question: free text must hold more than blanks."""
    if kind == "text":
        return isinstance(value, str) and bool(value.strip())
    return value is not None


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's index. Database ids (and pair keys of a few
    annotators) are dense enough that a presence table beats sorting."""
    if len(values) == 0:
        return values, values
    low, high = int(values.min()), int(values.max())
    if high - low > 4 * len(values):
        return np.unique(values, return_inverse=True)
    present = np.zeros(high - low + 1, dtype=bool)
    present[values - low] = True
    index = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, index[values - low]


def scalar_units(question: dict, item: np.ndarray, expert: np.ndarray,
                  codes: np.ndarray) -> Units:
    """The Units build_units makes for a label, rating or pairwise question, from the
    codes the database computed for rows sorted by item, then expert."""
    name, kind = question["name"], question["kind"]
    keep = ~np.isnan(codes)
    codes = codes[keep]
    if kind == "label" and np.any(codes < 0):
        raise ValueError(f"an answer to {name!r} is not one of {question.get('options')}")
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"an answer to {name!r} is not a valid {kind} answer")
    meta = question
    if kind == "pairwise" and question.get("strength"):
        top = question.get("max_strength") or max(1, int(np.abs(codes).max(initial=1)))
        meta = {**question, "max_strength": top}
    template = build_units([], meta)
    domain = template.value_domain
    if np.any((codes < domain[0]) | (codes > domain[-1]) | (codes != np.round(codes))):
        raise ValueError(f"an answer to {name!r} lies outside {list(domain)}")
    item_ids, unit = factorize(item[keep])
    annotator_ids, annotator = factorize(expert[keep])
    return Units(kind=kind, level=template.level, value_domain=domain,
                 value_labels=template.value_labels, annotator_ids=annotator_ids,
                 item_ids=item_ids, unit_item=np.arange(len(item_ids)),
                 unit_part=np.zeros(len(item_ids), np.int64), unit_idx=unit,
                 annotator_idx=annotator, values=codes)
