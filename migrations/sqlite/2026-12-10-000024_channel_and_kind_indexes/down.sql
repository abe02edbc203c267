DROP INDEX requests_kind_created;
DROP INDEX requests_channel_received;
