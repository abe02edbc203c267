DROP TABLE rate_limits;
DROP TABLE idempotency_keys;
DROP TABLE case_counters;
DROP TABLE request_events;
DROP TABLE request_documents;
DROP TABLE requests;
