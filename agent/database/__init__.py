"""The database layer: engines for `SIP_AGENT_DB_URL`, migrations run per part, the health
probe and the buffered writer. It knows no tables: the call log (`store`) and the webhook
outbox (`webhooks`) own theirs, with their migrations."""
