"""Job functions for the runner's tests. Each leaves a line in a file, so that a test counts
the runs of a job across threads and processes."""

import time
from pathlib import Path


def mark(path: str, text: str) -> None:
    with Path(path).open("a") as file:
        file.write(text + "\n")


def mark_slowly(path: str, text: str, seconds: float) -> None:
    mark(path, text)
    time.sleep(seconds)


def mark_then_fail(path: str, text: str) -> None:
    mark(path, text)
    raise RuntimeError(f"{text} broke")


def gave_up(path: str, text: str, *, error: str) -> None:
    mark(path, f"gave up on {text}: {error}")


def lines(path) -> list[str]:
    path = Path(path)
    return path.read_text().splitlines() if path.exists() else []
