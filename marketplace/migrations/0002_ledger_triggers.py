"""The ledger's rules in PostgreSQL itself, so that no code path, raw SQL included, can break
them: every transaction's entries sum to zero per currency and each entry is in its account's
currency (checked at commit, so a transaction's entries may be written one by one), every
transaction has entries, and ledger rows are never updated or deleted. SQLite gets the
same checks from marketplace.ledger.post only."""

from django.db import migrations

BALANCED = """
CREATE FUNCTION marketplace_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  txn bigint;
  bad record;
BEGIN
  IF TG_OP = 'DELETE' THEN
    txn := OLD.transaction_id;
  ELSE
    txn := NEW.transaction_id;
    IF NOT EXISTS (SELECT 1 FROM marketplace_account a
                   WHERE a.id = NEW.account_id AND a.currency = NEW.currency) THEN
      RAISE EXCEPTION 'ledger entry % is not in its account''s currency', NEW.id
        USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  SELECT e.currency, SUM(e.amount) AS total INTO bad
  FROM marketplace_entry e WHERE e.transaction_id = txn
  GROUP BY e.currency HAVING SUM(e.amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced: its % entries sum to %',
      txn, bad.currency, bad.total USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER marketplace_entry_balanced
AFTER INSERT OR UPDATE OR DELETE ON marketplace_entry
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION marketplace_entry_balanced();

CREATE FUNCTION marketplace_transaction_has_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT COUNT(*) FROM marketplace_entry e WHERE e.transaction_id = NEW.id) < 2 THEN
    RAISE EXCEPTION 'ledger transaction % has fewer than two entries', NEW.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER marketplace_transaction_has_entries
AFTER INSERT ON marketplace_transaction
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION marketplace_transaction_has_entries();

CREATE FUNCTION marketplace_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER marketplace_entry_append_only
BEFORE UPDATE OR DELETE ON marketplace_entry
FOR EACH ROW EXECUTE FUNCTION marketplace_ledger_append_only();

CREATE TRIGGER marketplace_transaction_append_only
BEFORE UPDATE OR DELETE ON marketplace_transaction
FOR EACH ROW EXECUTE FUNCTION marketplace_ledger_append_only();
"""

DROP = """
DROP TRIGGER marketplace_transaction_append_only ON marketplace_transaction;
DROP TRIGGER marketplace_entry_append_only ON marketplace_entry;
DROP FUNCTION marketplace_ledger_append_only();
DROP TRIGGER marketplace_transaction_has_entries ON marketplace_transaction;
DROP FUNCTION marketplace_transaction_has_entries();
DROP TRIGGER marketplace_entry_balanced ON marketplace_entry;
DROP FUNCTION marketplace_entry_balanced();
"""


class PostgreSQLOnly(migrations.RunSQL):
    """SQL for PostgreSQL; other databases skip it."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):

    dependencies = [
        ("marketplace", "0001_initial"),
    ]

    operations = [
        PostgreSQLOnly(BALANCED, DROP),
    ]
