"""In-memory fakes of the ports in `scalelite_common.services.ports`, for socket-free service tests. Each keeps the
adapter's semantics (conditions, conflicts, TTLs); tests/integration/test_store_contract.py checks the store fake
against DynamoDB."""
