"""The callback function: recording-ready callbacks from the callback queue (SQS) to the LMSs."""
