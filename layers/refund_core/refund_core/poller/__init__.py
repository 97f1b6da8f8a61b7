"""The poller's side of the provider functions: one check per Step Functions attempt, every
observation kept in DynamoDB under conditional-write rules."""
