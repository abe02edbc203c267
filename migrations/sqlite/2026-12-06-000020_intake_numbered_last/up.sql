-- Intake writes an application's documents, first trail event and flags before the
-- application's row (see the PostgreSQL migration of the same name). SQLite needs no schema
-- change for it: a transaction defers its foreign keys with PRAGMA defer_foreign_keys. This
-- migration keeps the two backends' migration lists the same.
SELECT 1;
