"""The admin function: administration commands invoked directly (the `scalelite` CLI, `aws lambda invoke`)."""
