"""The runawaytrain spend watcher: burn rate per account from the Cost and Usage Report.

Runs in the payer account. Standard library and boto3 only; `burn` is pure, `cur` reads S3.
"""
