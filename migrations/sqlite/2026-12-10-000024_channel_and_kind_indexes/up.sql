-- The two list filters of a large share without an index of their own on SQLite, which has no
-- planner estimate and so counts up to 10,001 matches for a list's default total.
--
-- A channel's applications by receipt date (`channel` with `received_from`/`received_to`,
-- sorted by receipt or not). Without it the capped count of such a list read the receipt
-- range's rows from the table to check their channel (a quarter over 1,000,000 applications:
-- 40,000 rows for 6,684 matches, 150 ms); with it the count and a page sorted by receipt read
-- this index alone. `channel` alone is counted from it too.
CREATE INDEX requests_channel_received ON requests (channel, receipt_date, id);
-- An applicant kind's applications in the default order (`applicant_kind`, newest first): the
-- page and the capped count read this index alone, where they read the table until enough
-- rows of the kind were found (57 ms p50 at one client over a million, 274 at eight).
CREATE INDEX requests_kind_created ON requests (applicant_kind, created_at, id);
