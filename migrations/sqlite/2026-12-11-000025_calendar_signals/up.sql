-- Each process keeps the working-day calendar in memory too (issue 15: a step that computes a
-- deadline, an intake above all, reads no revision of it). A change of any year's notice moves
-- the revision that each process already watches for its cached principals, whoever makes it
-- (the service, the CLI, a hand-written statement); each process then reads the calendar again.
CREATE TRIGGER principals_calendar_added AFTER INSERT ON calendar_years
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
CREATE TRIGGER principals_calendar_changed AFTER UPDATE ON calendar_years
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
CREATE TRIGGER principals_calendar_removed AFTER DELETE ON calendar_years
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
