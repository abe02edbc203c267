-- Filing limits run from when the applicant learned of the act or received the review
-- decision (issue 12 item 3): the day a review decision was served, where the limit started
-- and on what evidence (act_known_on, reply_served_on, reply_date, decision_served_on,
-- decision_date; the *_date ones are provisional), and the review-first warning (Administrative
-- Reconsideration Law art. 23, since 2024-01-01).
ALTER TABLE remedy_cases ADD COLUMN decision_served_on DATE;
ALTER TABLE remedy_cases ADD COLUMN filing_starts_on DATE;
ALTER TABLE remedy_cases ADD COLUMN filing_start_basis TEXT;
ALTER TABLE remedy_cases ADD COLUMN review_first_required BOOLEAN NOT NULL DEFAULT 0;
