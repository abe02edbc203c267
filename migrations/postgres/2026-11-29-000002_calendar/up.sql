-- One row per State Council holiday notice (a calendar year). `schedule` is the notice as JSON:
-- {"year", "holidays": [{"name", "start", "end"}], "workdays": [...]}.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY NOT NULL,
    schedule TEXT NOT NULL,
    -- "file" (loaded from config/calendar at start) or "api" (PUT /api/v1/calendar/{year})
    source TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT
);
