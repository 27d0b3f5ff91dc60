"""`scalelite`: the operator's CLI; it invokes the AdminFunction (boto3 `lambda.invoke`) in AWS or locally."""
