"""A finished agreement report laid out as charts for a QA lead to read at a glance.

Each question's alpha with its 95% interval against Krippendorff's thresholds (0.667 for
tentative conclusions, 0.8 for reliable ones), each expert's agreement with the others'
consensus next to their gold accuracy, and a heatmap of answers against consensus per label
question; then the judges as a table. The charts are inline SVG: this module computes their
geometry and ``quality/report_charts.html`` draws it, so a page showing a report needs no
script and no asset of its own. The admin's report page and the workspace's both use it.
"""

import math
from datetime import datetime

LABEL_WIDTH = 170
PLOT_WIDTH = 440
VALUE_WIDTH = 120
ROW_HEIGHT = 28
AXIS_HEIGHT = 34
MAX_EXPERTS_DRAWN = 40
CELL = 40
GOOD, TENTATIVE, POOR = "#2e7d32", "#f9a825", "#c62828"
AGREEMENT_COLOUR, GOLD_COLOUR = "#1565c0", "#ef6c00"
BOARD_WIDTH = 260
BOARD_HEIGHT = 22
BOARD_PAD = 8


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


class _Scale:
    """Maps values in [low, high] onto the plot's x pixels."""

    def __init__(self, low: float, high: float):
        self.low, self.high = low, high

    def __call__(self, value: float) -> float:
        share = (min(max(value, self.low), self.high) - self.low) / (self.high - self.low)
        return round(LABEL_WIDTH + share * PLOT_WIDTH, 1)

    def ticks(self, step: float = 0.2) -> list[dict]:
        count = round((self.high - self.low) / step)
        values = [round(self.low + n * step, 2) for n in range(count + 1)]
        return [{"x": self(v), "label": f"{v:g}"} for v in values]


def alpha_chart(questions: list[dict]) -> dict | None:
    """Horizontal bars of alpha from zero, with the bootstrap interval as an error bar."""
    rated = [q for q in questions if q["level"] != "none"]
    if not rated:
        return None
    lows = [min(q["alpha"], (q["alpha_ci"] or [q["alpha"]])[0]) for q in rated
            if q["alpha"] is not None]
    scale = _Scale(math.floor(min([0.0, *lows]) / 0.2) * 0.2, 1.0)
    rows = []
    for n, question in enumerate(rated):
        y = AXIS_HEIGHT + n * ROW_HEIGHT
        value = question["alpha"]
        row = {"y": y, "mid": y + ROW_HEIGHT / 2, "label": question["question"],
               "detail": f"{question['level']}, {question['items']:,} items",
               "text": _fmt(value)}
        if value is not None:
            start, end = sorted([scale(0), scale(value)])
            row.update(bar_x=start, bar_width=max(end - start, 1.0),
                       colour=GOOD if value >= 0.8 else TENTATIVE if value >= 0.667 else POOR)
            if question["alpha_ci"]:
                lo, hi = question["alpha_ci"]
                row.update(ci_lo=scale(lo), ci_hi=scale(hi),
                           text=f"{_fmt(value)} [{_fmt(lo)}, {_fmt(hi)}]")
        rows.append(row)
    height = AXIS_HEIGHT + len(rows) * ROW_HEIGHT + 8
    return {"width": LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH + 40, "height": height,
            "plot_right": LABEL_WIDTH + PLOT_WIDTH, "text_x": LABEL_WIDTH + PLOT_WIDTH + 8,
            "rows": rows, "ticks": scale.ticks(), "axis_y": AXIS_HEIGHT - 6,
            "bottom": height - 8, "zero": scale(0),
            "thresholds": [{"x": scale(0.667), "label": "0.667"},
                           {"x": scale(0.8), "label": "0.8"}]}


def expert_chart(experts: list[dict]) -> dict | None:
    """Two bars per expert: agreement with the consensus of the others, and gold accuracy;
    None when no expert has either (a project of written answers only, without gold)."""
    if not any(e["agreement_with_consensus"] is not None or e["gold_accuracy"] is not None
               for e in experts):
        return None
    shown = experts[:MAX_EXPERTS_DRAWN]
    scale = _Scale(0.0, 1.0)
    rows = []
    for n, expert in enumerate(shown):
        y = AXIS_HEIGHT + n * ROW_HEIGHT
        bars = []
        for offset, key, colour in ((4, "agreement_with_consensus", AGREEMENT_COLOUR),
                                    (15, "gold_accuracy", GOLD_COLOUR)):
            if expert[key] is not None:
                bars.append({"y": y + offset, "width": max(scale(expert[key]) - LABEL_WIDTH,
                                                           1.0), "colour": colour})
        rows.append({"mid": y + ROW_HEIGHT / 2, "label": expert["expert"], "bars": bars,
                     "text": f"{_fmt(expert['agreement_with_consensus'])} / "
                             f"{_fmt(expert['gold_accuracy'])} · {expert['annotations']:,}"})
    height = AXIS_HEIGHT + len(rows) * ROW_HEIGHT + 8
    return {"width": LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH + 60, "height": height,
            "text_x": LABEL_WIDTH + PLOT_WIDTH + 8, "rows": rows, "ticks": scale.ticks(),
            "axis_y": AXIS_HEIGHT - 6, "bottom": height - 8, "left": LABEL_WIDTH,
            "hidden": len(experts) - len(shown),
            "legend": [{"x": LABEL_WIDTH, "colour": AGREEMENT_COLOUR,
                        "label": "agreement with consensus"},
                       {"x": LABEL_WIDTH + 200, "colour": GOLD_COLOUR,
                        "label": "gold accuracy"}]}


def expert_table(experts: list[dict]) -> list[dict]:
    """The experts' figures as table rows, each with what Dawid-Skene learned of them per
    label question (a confusion matrix as rows of shares). Reports from before these
    figures existed simply have none. Empty when no expert has any of these figures (a
    project of written answers only, without gold), rather than a table of dashes."""
    measured = ("agreement_with_consensus", "gold_accuracy", "kappa_vs_others", "spammer_score")
    if not any(expert.get(key) is not None for expert in experts for key in measured):
        return []
    rows = []
    for expert in experts:
        fits = [{"question": question, "accuracy": fit["accuracy"],
                 "spammer_score": fit["spammer_score"], "answers": fit["answers"],
                 "labels": fit["labels"],
                 "rows": list(zip(fit["labels"], fit["confusion"], strict=True))}
                for question, fit in (expert.get("dawid_skene") or {}).items()]
        rows.append({**expert, "spammer_score": expert.get("spammer_score"), "fits": fits})
    return rows


def confusion_chart(confusion: dict) -> dict:
    """A heatmap of answers (columns) against consensus (rows), shaded by row share."""
    labels = [label[:12] for label in confusion["labels"]]
    widest = max([len(str(n)) for row in confusion["matrix"] for n in row]
                 + [len(label) for label in labels])
    width = max(CELL, 8 * widest + 14)
    left, top = 8 * max(len(label) for label in labels) + 24, 44
    cells = []
    for r, row in enumerate(confusion["matrix"]):
        total = sum(row)
        for c, count in enumerate(row):
            share = count / total if total else 0.0
            x, y = left + c * width, top + r * CELL
            cells.append({"x": x, "y": y, "count": count, "share": f"{share:.0%}",
                          "text_x": x + width / 2, "count_y": y + 17, "share_y": y + 31,
                          "fill": f"rgba(21, 101, 192, {0.06 + 0.94 * share:.3f})",
                          "ink": "#fff" if share > 0.5 else "#222",
                          "diagonal": r == c})
    return {"question": confusion["question"], "width": left + len(labels) * width + 10,
            "height": top + len(labels) * CELL + 10, "left": left, "top": top,
            "cell_width": width, "cell_height": CELL, "cells": cells,
            "columns": [{"x": left + n * width + width / 2, "label": label}
                        for n, label in enumerate(labels)],
            "rows": [{"y": top + n * CELL + CELL / 2, "label": label}
                     for n, label in enumerate(labels)]}


def judges_table(judges: list[dict], questions: list[dict]) -> dict | None:
    """Judges by question accuracy, the way reward model tables are read, with the mean."""
    if not judges:
        return None
    names = [q["question"] for q in questions
             if any(row["question"] == q["question"] for j in judges for row in j["questions"])]
    rows = []
    for judge in judges:
        by_question = {row["question"]: row for row in judge["questions"]}
        rows.append({"judge": judge["judge"], "accuracy": judge["accuracy"],
                     "cells": [by_question.get(name) for name in names]})
    return {"questions": names, "rows": rows}


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _outliers(counts: dict, low: str, high: str) -> str:
    parts = [f"{counts[key]} {word}" for key, word in (("low", low), ("high", high))
             if counts[key]]
    return ", ".join(parts) or "none"


def _written_row(label: str, figures: dict, criteria: list[str]) -> dict:
    """One line of a written-answers table, formatted for reading."""
    return {
        "label": label, "answers": figures["answers"], "reviewed": figures["reviewed"],
        "accepted": _share(figures["acceptance_rate"]), "fixed": _share(figures["fix_rate"]),
        "rejected": _share(figures["rejection_rate"]),
        "rewritten": _share(figures["mean_fix_distance"]),
        "rubric": [_number(figures["rubric"].get(name)) for name in criteria],
        "median_length": _number(figures["median_length"], 0),
        "median_seconds": _number(figures["median_seconds"], 0),
        "length_outliers": _outliers(figures["length_outliers"], "short", "long"),
        "time_outliers": _outliers(figures["time_outliers"], "fast", "slow"),
        "similarity": _number(figures["similarity_to_others"]),
    }


def written_tables(written: list[dict]) -> list[dict]:
    """Per text question: a row per expert and one for all of them, and the consensus."""
    return [{"question": q["question"], "answers": q["answers"], "items": q["items"],
             "experts_count": q["experts_count"], "criteria": q["rubric_criteria"],
             "rows": [_written_row(e["expert"], e, q["rubric_criteria"]) for e in q["experts"]],
             "total": _written_row("All experts", q, q["rubric_criteria"]),
             "consensus": q["consensus"]} for q in written]


def _signed(value: float) -> str:
    """A strength with its sign; adding 0.0 turns a rounded -0.0 into +0.00."""
    return f"{round(value, 2) + 0.0:+.2f}"


def leaderboard_tables(sections: list[dict]) -> list[dict]:
    """Per question naming models: its leaderboard rows, strongest first, each with the
    geometry of a small inline SVG drawing the strength's interval as a bar on a scale
    shared by the question's models, with zero (an average model) marked."""
    tables = []
    for section in sections:
        rows = section["rows"]
        bounds = [v for row in rows for v in (*row["interval"], row["strength"])] + [0.0]
        low, high = min(bounds), max(bounds)
        span = (high - low) or 1.0

        def x(value: float, low: float = low, span: float = span) -> float:
            return round(BOARD_PAD + (value - low) / span * (BOARD_WIDTH - 2 * BOARD_PAD), 1)

        drawn = []
        for rank, row in enumerate(rows, 1):
            lo, hi = row["interval"]
            drawn.append({
                **row, "rank": rank, "strength_text": _signed(row["strength"]),
                "interval_text": f"[{_signed(lo)}, {_signed(hi)}]",
                "win_rate_text": _share(row["win_rate"]),
                "p_beats_next_text": _share(row["p_beats_next"]),
                "ahead_of_next_text": _share(row["ahead_of_next"]),
                "bar": {"x": x(lo), "width": max(x(hi) - x(lo), 1.0), "point": x(row["strength"]),
                        "label": f"{row['model']}: {_signed(row['strength'])}, 95% interval "
                                 f"{_signed(lo)} to {_signed(hi)}"},
            })
        tables.append({
            "question": section["question"], "kind": section["kind"],
            "models_field": section["models_field"], "items": section["items"],
            "comparisons": section["comparisons"], "connected": section["connected"],
            "replicates": section["bootstrap"]["replicates"],
            "seed": section["bootstrap"]["seed"], "rows": drawn,
            "width": BOARD_WIDTH, "height": BOARD_HEIGHT, "mid": BOARD_HEIGHT / 2,
            "zero": x(0.0), "colour": AGREEMENT_COLOUR,
            "scale": f"{_signed(low)} to {_signed(high)}",
        })
    return tables


def report_charts(result: dict) -> dict:
    """Everything the report template draws, from a done report's figures."""
    return {
        "result": result,
        "generated_at": datetime.fromisoformat(result["generated_at"]),
        "summary": f"{result['items']:,} items, {result['annotations']:,} human answers",
        "alpha_chart": alpha_chart(result["questions"]),
        "expert_chart": expert_chart(result["experts"]),
        "expert_table": expert_table(result["experts"]),
        "confusion_charts": [confusion_chart(c) for c in result.get("confusion", [])],
        "judges_table": judges_table(result.get("judges", []), result["questions"]),
        "written_tables": written_tables(result.get("written", [])),
        "leaderboard_tables": leaderboard_tables(result.get("leaderboard", [])),
    }
