"""DynamoDB access: the only package that imports PynamoDB. The composition root (`services.wiring`) builds the
store; nothing else does."""
