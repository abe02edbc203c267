DROP INDEX requests_agency_open;
DROP INDEX requests_agency_case_number;
