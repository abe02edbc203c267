ALTER TABLE remedy_cases DROP COLUMN review_first_required;
ALTER TABLE remedy_cases DROP COLUMN filing_start_basis;
ALTER TABLE remedy_cases DROP COLUMN filing_starts_on;
ALTER TABLE remedy_cases DROP COLUMN decision_served_on;
