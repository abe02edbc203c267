-- A read of an application sends one statement (issue 15). Two of its parts moved out of it:
--
-- 1. The acts of its trail that a notice performs but that were recorded without one: a
--    correlated aggregate over the trail on every read, now kept on the application
--    (`seq|action|date;…`, NULL when there are none). The service writes it in the same
--    transaction as the event it follows from (`db::requests::insert_event`); the trail is
--    append-only. The rule is the one the read applied until now; the listed actions are the
--    domain's (`NoticeType::performing_actions`), and a test checks that this list and the
--    service's agree on every row.
-- 2. The agency's code and path: each process keeps every agency's in memory under the signal
--    it already watches for its cached principals (`app::agency_places`). A new agency and a
--    change of an agency's code now move that signal too (a change of its parent or path, or
--    its removal, did already).
ALTER TABLE requests ADD COLUMN acts_without_notice TEXT;

UPDATE requests SET acts_without_notice = (
    SELECT group_concat(e.seq || '|' || e.action || '|' || coalesce(e.on_date, ''), ';')
    FROM request_events e
    WHERE e.request_id = requests.id
      AND e.action IN ('request_correction', 'extend', 'start_consultation', 'issue_fee_notice',
                       'override_deadline', 'reply', 'close_uncorrected', 'close_unpaid')
      AND json_type(e.payload, '$.notice_id') IS NULL)
WHERE EXISTS (
    SELECT 1 FROM request_events e
    WHERE e.request_id = requests.id
      AND e.action IN ('request_correction', 'extend', 'start_consultation', 'issue_fee_notice',
                       'override_deadline', 'reply', 'close_uncorrected', 'close_unpaid')
      AND json_type(e.payload, '$.notice_id') IS NULL);

DROP TRIGGER principals_agency_changed;
CREATE TRIGGER principals_agency_changed
AFTER UPDATE OF parent_id, path, code ON agencies
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
CREATE TRIGGER principals_agency_added AFTER INSERT ON agencies
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
