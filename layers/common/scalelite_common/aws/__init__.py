"""AWS adapters other than DynamoDB: S3 (`s3.S3ObjectStore`, the ObjectStore port) and SQS (`sqs.SqsNotifier`)."""
