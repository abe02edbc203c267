DROP TABLE webhook_deliveries;
DROP TABLE webhook_outbox;
DROP TABLE webhook_subscriptions;
DROP TABLE feed_events;
DROP TABLE feed_state;
DROP TABLE api_clients;
