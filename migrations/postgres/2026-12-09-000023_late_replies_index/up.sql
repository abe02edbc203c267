-- The late replies (`late`, a small share: replies served after their due date), by disposition
-- and in the default order: `disposition` + `late=true` answered from it in order, and the
-- count of `late=true` from it alone, instead of every row of the disposition or the table
-- (over a million, disposition + late took 89/1,590 ms p50/p99). The list plans per call
-- (`PlannedPerCall`), so `late = true` is simplified to `late` and proves the condition.
-- No cost to intake: an application is never late when it arrives.
CREATE INDEX requests_late ON requests (disposition, created_at, id) WHERE late;
