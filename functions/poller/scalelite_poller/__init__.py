"""The poller function: EventBridge-scheduled polling of the BBB servers (reserved concurrency 1)."""
