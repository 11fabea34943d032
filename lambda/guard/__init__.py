"""The runawaytrain guard: the code that runs inside AWS Lambda in every guarded account.

Standard library and boto3 only (boto3 ships with the Lambda Python runtime); nothing is bundled.
"""
