DROP INDEX requests_agency_due;
DROP INDEX requests_external_reference_any;
