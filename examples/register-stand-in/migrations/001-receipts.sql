-- Receipts the register writes while it runs.
CREATE TABLE receipts (
  id INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,
  amount_cents INTEGER NOT NULL,
  register_version TEXT NOT NULL
);
CREATE INDEX receipts_created ON receipts (created_at);
