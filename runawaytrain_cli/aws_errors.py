"""An AWS failure the operator can fix, said in one line with what to do, instead of a traceback.

The codes, by what they mean to the operator:
- expired credentials: `ExpiredToken` (STS, IAM: "The security token included in the request is
  expired"), `ExpiredTokenException`, `RequestExpired` (EC2, "Common client error codes" in the
  EC2 API Reference); an SSO profile whose login lapsed raises botocore's `TokenRetrievalError`,
  `SSOTokenLoadError` or `UnauthorizedSSOTokenError` before any request is sent;
- unknown credentials: `InvalidClientTokenId` (STS, IAM), `UnrecognizedClientException`,
  `InvalidAccessKeyId` (S3), `SignatureDoesNotMatch` (a wrong secret key), `AuthFailure` (EC2);
- refused: `AccessDenied` (STS AssumeRole: "User ... is not authorized to perform:
  sts:AssumeRole on resource ...", S3, IAM), `AccessDeniedException`, `UnauthorizedOperation` (EC2).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
UNKNOWN_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
    }
)
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
SET_CREDENTIALS = (
    "set AWS_PROFILE (after `aws sso login`, or `aws configure`) or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY"
)


def explain_aws_error(error: BotoCoreError | ClientError, needs: str) -> str:
    """One line: what went wrong and what to do; `needs` says which credentials the command needs
    (e.g. "credentials allowed to assume arn:aws:iam::...:role/OrganizationAccountAccessRole")."""
    if isinstance(error, ClientError):
        return _explain_refusal(error, needs)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return f"no AWS credentials found; this command needs {needs}: {SET_CREDENTIALS}"
    if isinstance(error, ProfileNotFound):
        return f"{error}: check AWS_PROFILE against `aws configure list-profiles`"
    if isinstance(error, TokenRetrievalError | SSOTokenLoadError | UnauthorizedSSOTokenError):
        return f"the AWS SSO login has expired or is missing: run `aws sso login` ({needs})"
    if isinstance(error, ConnectionError):
        return f"cannot reach AWS ({error}): check the network or proxy and retry"
    return f"{error}; this command needs {needs}"


def is_credentials_problem(error: BotoCoreError | ClientError) -> bool:
    """The caller's credentials are missing, expired, not accepted or refused: the operator must
    change them (exit status 2), not retry (operator_error.py)."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        return code in EXPIRED | UNKNOWN_CREDENTIALS | DENIED
    return isinstance(
        error,
        NoCredentialsError
        | PartialCredentialsError
        | ProfileNotFound
        | TokenRetrievalError
        | SSOTokenLoadError
        | UnauthorizedSSOTokenError,
    )


def _explain_refusal(error: ClientError, needs: str) -> str:
    """An answer from AWS: the request arrived and was refused."""
    code = str(error.response.get("Error", {}).get("Code", "Unknown"))
    message = str(error.response.get("Error", {}).get("Message", "")).strip()
    where = f"{code} on {error.operation_name}"
    if code in EXPIRED:
        return f"the AWS credentials have expired ({where}): renew them and retry ({needs})"
    if code in UNKNOWN_CREDENTIALS:
        return f"AWS does not accept these credentials ({where}); this command needs {needs}"
    if code in DENIED:
        said = f": {message}" if message else ""
        return f"AWS refused ({where}{said}); this command needs {needs}"
    return f"AWS call failed ({where}): {message or 'no message'}"
