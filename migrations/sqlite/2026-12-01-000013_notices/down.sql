DROP TABLE document_numbers;
DROP TABLE notices;
