"""Deploy-time only: accounts.yaml loading and validation, and the CDK constructs and stacks."""
