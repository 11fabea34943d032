"""Suite-wide safety: fake credentials, so nothing in the tests can ever reach real AWS."""

import os

for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    # moto otherwise loads thousands of AMIs into every region it touches: seconds per test.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}.items():
    os.environ[name] = value
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)


def _share_service_models() -> None:
    """One botocore loader for every session the tests make. Each guard run builds a session of
    its own (as each Lambda invocation does), and each new session parses the service models it
    uses again: about half a second for SageMaker's alone, in every test. A Lambda execution
    environment parses them once; so do the tests now. The loader only reads botocore's data
    files and caches what it parsed."""
    import functools

    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


_share_service_models()
