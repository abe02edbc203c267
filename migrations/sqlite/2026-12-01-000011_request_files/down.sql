DROP TABLE request_files;
