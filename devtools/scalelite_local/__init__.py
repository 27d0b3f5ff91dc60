"""The local stack: moto, an API Gateway-style gateway, the Lambda Invoke API, schedules and S3 events, with the
real Lambda handlers, so `make run` behaves like the deployed stack without AWS or Docker."""
