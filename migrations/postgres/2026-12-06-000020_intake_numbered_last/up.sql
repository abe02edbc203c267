-- Intake writes an application's documents, first trail event and flags before the
-- application's row, which comes last with its case number, so that the agency's case counter
-- is locked only for the last statements of the transaction (`db::requests::
-- defer_intake_references`). These three references become DEFERRABLE, still checked at each
-- statement (INITIALLY IMMEDIATE) unless a transaction says otherwise, as intake does with
-- SET CONSTRAINTS; they are then checked at its commit. SQLite needs no change: a
-- transaction defers its foreign keys with PRAGMA defer_foreign_keys.
ALTER TABLE request_documents ALTER CONSTRAINT request_documents_request_id_fkey
    DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE request_events ALTER CONSTRAINT request_events_request_id_fkey
    DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE request_flags ALTER CONSTRAINT request_flags_request_id_fkey
    DEFERRABLE INITIALLY IMMEDIATE;
