DROP TABLE notice_settings;
DROP TABLE document_numbers;
DROP TABLE notices;
