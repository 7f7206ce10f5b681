"""Payout providers: what sends an expert's money out of the platform.

A provider receives a batch of processing payouts under the batch's name and answers, per
payout, paid or failed. The same batch may reach it again (a worker died after sending it
and before recording the answer), so a provider must treat the batch name and payout ids as
idempotency keys: a batch it has seen is answered from its records, never sent twice.

The default provider pays nothing itself: it writes the batch as a CSV file for an operator
to execute with the bank, and reports the payouts paid once the file is safely on disk.
"""

import contextlib
import csv
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from config import csvcells

from .models import Payout

CSV_COLUMNS = ["payout_id", "expert_id", "username", "email", "full_name", "amount",
               "currency", "requested_at", "batch"]


def _row(payout: Payout, batch: str) -> list:
    expert = payout.expert
    profile = getattr(expert, "expert_profile", None)
    return [payout.pk, expert.pk, expert.username, expert.email,
            profile.full_name if profile else "", payout.amount, payout.currency,
            payout.requested_at.isoformat(), batch]


@dataclass(frozen=True)
class PayoutResult:
    payout_id: int
    paid: bool
    reference: str = ""
    error: str = ""


class PayoutProvider(Protocol):
    name: str

    def send(self, batch: str, payouts: Sequence[Payout]) -> list[PayoutResult]: ...


def get_provider() -> PayoutProvider:
    return import_string(settings.PAYOUT_PROVIDER)()


class FilePayoutProvider:
    """Writes ``payouts-<batch>.csv`` under ``VAR_DIR/payouts`` for the operator.

    The file appears whole or not at all (written aside, then hard-linked into place, which
    fails if the name exists), so two workers sending one batch agree on a single file, and
    the answer is read back from that file: exactly the payouts listed in it are paid.
    """

    name = "file"

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or Path(settings.VAR_DIR) / "payouts")

    def path(self, batch: str) -> Path:
        return self.directory / f"payouts-{batch}.csv"

    def send(self, batch: str, payouts: Sequence[Payout]) -> list[PayoutResult]:
        path = self.path(batch)
        if not path.exists():
            self._write(path, batch, payouts)
        with path.open(newline="") as handle:
            listed = {int(row["payout_id"]) for row in csv.DictReader(handle)}
        return [PayoutResult(payout.pk, paid=True, reference=path.name)
                for payout in payouts if payout.pk in listed]

    def _write(self, path: Path, batch: str, payouts: Sequence[Payout]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-",
                                                 suffix=".csv")
        try:
            with os.fdopen(descriptor, "w", newline="") as handle:
                csvcells.write(handle, CSV_COLUMNS, (_row(payout, batch) for payout in payouts))
                handle.flush()
                os.fsync(handle.fileno())
            # Another worker may have written this batch first: its file is the answer.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
