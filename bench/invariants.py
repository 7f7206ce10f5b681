"""What must hold in the database after any load and any crash, read with plain SQL.

Each check is a query for the rows that break it, so a count of zero means the invariant
holds, and the first few rows say where it does not. The checks read the tables directly
rather than through the models, so that they see what PostgreSQL holds and not what the
code under test believes.
"""

from pathlib import Path

import psycopg

CHECKS = {
    "item leased twice to one expert": """
        SELECT item_id, expert_id, count(*) FROM tasks_assignment
        GROUP BY item_id, expert_id HAVING count(*) > 1""",
    "item with more open and done assignments than its overlap": """
        SELECT i.id, i.overlap, count(a.id) FROM tasks_item i
        JOIN tasks_assignment a ON a.item_id = i.id
        WHERE a.status IN ('submitted', 'approved')
           OR (a.status = 'assigned' AND a.expires_at > now())
        GROUP BY i.id, i.overlap HAVING count(a.id) > i.overlap""",
    "item whose slot counters disagree with its assignments": """
        SELECT i.id, i.filled, i.annotated, count(a.id) FILTER (
                   WHERE a.status IN ('assigned', 'submitted', 'approved')) AS holding,
               count(a.id) FILTER (WHERE a.status IN ('submitted', 'approved')) AS counted
        FROM tasks_item i LEFT JOIN tasks_assignment a ON a.item_id = i.id
        GROUP BY i.id, i.filled, i.annotated
        HAVING i.filled <> count(a.id) FILTER (
                   WHERE a.status IN ('assigned', 'submitted', 'approved'))
            OR i.annotated <> count(a.id) FILTER (WHERE a.status IN ('submitted', 'approved'))""",
    "ledger transaction whose entries do not sum to zero": """
        SELECT t.id, t.kind, sum(e.amount), count(e.id) FROM marketplace_transaction t
        LEFT JOIN marketplace_entry e ON e.transaction_id = t.id
        GROUP BY t.id, t.kind
        HAVING coalesce(sum(e.amount), 0) <> 0 OR count(e.id) < 2""",
    "currency whose entries do not sum to zero": """
        SELECT currency, sum(amount) FROM marketplace_entry
        GROUP BY currency HAVING sum(amount) <> 0""",
    "account whose cached balance is not the sum of its entries": """
        SELECT a.id, a.kind, a.balance, coalesce(sum(e.amount), 0) FROM marketplace_account a
        LEFT JOIN marketplace_entry e ON e.account_id = a.id
        WHERE a.balance IS NOT NULL
        GROUP BY a.id, a.kind, a.balance HAVING a.balance <> coalesce(sum(e.amount), 0)""",
    "assignment paid or reserved for twice": """
        SELECT assignment_id, kind, count(*) FROM marketplace_transaction
        WHERE assignment_id IS NOT NULL AND kind IN ('reservation', 'approval')
        GROUP BY assignment_id, kind HAVING count(*) > 1""",
    "payout not taken from the balance exactly once": """
        SELECT p.id, count(t.id) FROM marketplace_payout p
        LEFT JOIN marketplace_transaction t
               ON t.payout_id = p.id AND t.kind = 'payout_request'
        GROUP BY p.id HAVING count(t.id) <> 1""",
    "payout settled twice": """
        SELECT payout_id, count(*) FROM marketplace_transaction
        WHERE kind IN ('payout_paid', 'payout_failed')
        GROUP BY payout_id HAVING count(*) > 1""",
    "payout requested twice under one idempotency key": """
        SELECT expert_id, idempotency_key, count(*) FROM marketplace_payout
        WHERE idempotency_key <> ''
        GROUP BY expert_id, idempotency_key HAVING count(*) > 1""",
    "small batch not done with all its rows": """
        SELECT b.id, b.status, b.rows, b.created, count(i.id) FROM tasks_batch b
        LEFT JOIN tasks_item i ON i.batch_id = b.id
        WHERE b.id <> ALL(%(excluded)s)
        GROUP BY b.id, b.status, b.rows, b.created
        HAVING b.status <> 'done' OR b.created <> count(i.id)""",
    "agreement report not done": """
        SELECT id, status FROM quality_agreementreport WHERE status <> 'done'""",
}


def violations(conninfo: str, *, excluded_batches: list[int]) -> dict[str, dict]:
    """``{check: {"count", "examples"}}`` for every check in CHECKS."""
    found = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for name, query in CHECKS.items():
            rows = conn.execute(query, {"excluded": excluded_batches}).fetchall()
            found[name] = {"count": len(rows), "examples": [list(map(str, row))
                                                           for row in rows[:3]]}
    return found


def batch_outcome(conninfo: str, batch_id: int, rows: int, var_dir: Path) -> dict:
    """How a large upload ended: its status, its counts, the items that carry it, whether
    its spool file is gone, and the durable job behind it where that table exists. It ended
    well when it is done with exactly its rows, its spool file is gone and its one job is
    done."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        status, counted, created, existing, upload_path, finished = conn.execute(
            "SELECT status, rows, created, existing, upload_path, finished_at "
            "FROM tasks_batch WHERE id = %s", [batch_id]).fetchone()
        items = conn.execute("SELECT count(*) FROM tasks_item WHERE batch_id = %s",
                             [batch_id]).fetchone()[0]
        jobs = None
        if conn.execute("SELECT to_regclass('durable_job')").fetchone()[0]:
            jobs = [dict(zip(("key", "status", "attempts", "failures"), row, strict=True))
                    for row in conn.execute(
                        "SELECT key, status, attempts, failures FROM durable_job "
                        "WHERE key = %s ORDER BY id",
                        [f"tasks.process_batch:{batch_id}"]).fetchall()]
    spool = upload_path and (Path(upload_path) if Path(upload_path).is_absolute()
                             else var_dir / "media" / upload_path)
    return {"status": status, "uploaded_rows": rows, "rows": counted, "created": created,
            "existing": existing, "items": items, "finished": finished is not None,
            "spool_left": bool(spool and spool.exists()), "jobs": jobs,
            "ok": ((status, created, items, existing) == ("done", rows, rows, 0)
                   and not (spool and spool.exists())
                   and (jobs is None or [job["status"] for job in jobs] == ["done"]))}
