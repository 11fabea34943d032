"""Strict STS: AssumeRole honours the role's trust policy, as AWS does, for IAM callers.

moto's AssumeRole hands out credentials for any role ARN, existing or not, whoever asks
(moto.sts.models.STSBackend.assume_role: "the role does not need to exist"). AWS evaluates the
role's trust policy: a caller it does not allow, or a role that does not exist, gets
`AccessDenied: User: <caller> is not authorized to perform: sts:AssumeRole on resource: <role>`
(IAM User Guide, "Troubleshoot IAM roles", "I can't assume a role"; STS API Reference,
AssumeRole: "the role's trust policy ... must allow the caller"). The payer watchdog's reader
role depends on exactly that refusal.

Scope: enforced when moto knows the caller as an IAM principal (a user's key, or a session of a
role that exists). moto's default keys, and sessions of roles that do not exist (the drill's
operator), stand for an administrator with which tests and the drill play AWS services (assuming
a role trusted by lambda.amazonaws.com to run a Lambda's code), and stay lenient. Trust policies
are evaluated for `Principal` (`*`, account id, `:root`, exact ARN) and the condition key
`aws:PrincipalArn` under ArnEquals/ArnLike/StringEquals/StringLike; a statement with any other
condition does not apply (fails closed).
"""

from __future__ import annotations

import ast
import fnmatch
import json
from typing import Any
from urllib.parse import unquote

from moto.iam.exceptions import NotFoundException
from moto.sts.exceptions import STSClientError
from moto.sts.responses import TokenResponse

from strict_aws.patches import Patches
from strict_aws.principals import find_principal

ORIGINAL_ASSUME_ROLE = TokenResponse.assume_role
_MATCHERS = {
    "arnequals": lambda value, pattern: value == pattern,
    "stringequals": lambda value, pattern: value == pattern,
    "arnlike": fnmatch.fnmatchcase,
    "stringlike": fnmatch.fnmatchcase,
}


class AccessDeniedError(STSClientError):
    code = "AccessDenied"


def install(patches: Patches) -> None:
    patches.set(TokenResponse, "assume_role", assume_role_checked)


def assume_role_checked(self: TokenResponse) -> Any:
    """TokenResponse.assume_role, refusing what the trust policy does not allow."""
    role_arn = str(self._get_param("RoleArn") or "")
    access_key = self.get_access_key()
    caller = find_principal(self.current_account, self.region, access_key)
    caller_arn = _caller_principal_arn(caller, self.current_account, access_key)
    if caller_arn is not None and not _trusted(role_arn, caller_arn, self.current_account):
        raise AccessDeniedError(
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on "
            f"resource: {role_arn}"
        )
    return ORIGINAL_ASSUME_ROLE(self)


def _caller_principal_arn(caller: Any, account: str, access_key: str) -> str | None:
    """aws:PrincipalArn: for a role session, the role's ARN (with its path), not the session's.
    None for a session of a role moto does not hold (the drill's administrator stand-in)."""
    from moto.sts.models import sts_backends

    if caller is None:
        return None
    # A session is kept by the STS backend of the account that asked for it, which for a role
    # assumed from another account (the payer into a member) is not the role's own account.
    backends = [b for regions in sts_backends.values() for b in regions.values()]
    for backend in backends:
        for session in backend.assumed_roles:
            if session.access_key_id == access_key:
                return str(session.role_arn) if _trust_policy(session.role_arn) else None
    return str(caller.arn)


def _trust_policy(role_arn: str) -> dict[str, Any] | None:
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[4].isdigit():
        return None
    partition, account = parts[1], parts[4]
    try:
        role = iam_backends[account][partition].get_role_by_arn(role_arn)
    except NotFoundException:  # no such role: nothing is trusted
        return None
    document = role.assume_role_policy_document
    if isinstance(document, str):
        text = unquote(document)
        try:
            document = json.loads(text)
        except json.JSONDecodeError:  # moto's CloudFormation stores a Python repr
            try:
                document = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return None
    return dict(document) if isinstance(document, dict) else None


def _trusted(role_arn: str, caller_arn: str, caller_account: str) -> bool:
    policy = _trust_policy(role_arn)
    if policy is None:
        return False
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    applying = [s for s in statements if _applies(s, caller_arn, caller_account)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return False
    return any(s.get("Effect") == "Allow" for s in applying)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _applies(statement: dict[str, Any], caller_arn: str, caller_account: str) -> bool:
    actions = [str(a).lower() for a in _listed(statement.get("Action", []))]
    if not {"sts:assumerole", "sts:*", "*"} & set(actions):
        return False
    principal = statement.get("Principal", {})
    names = ["*"] if principal == "*" else _listed(principal.get("AWS", []))
    root = f"arn:{caller_arn.split(':')[1]}:iam::{caller_account}:root"
    if not {"*", caller_account, root, caller_arn} & {str(n) for n in names}:
        return False
    for operator, keys in statement.get("Condition", {}).items():
        match = _MATCHERS.get(operator.lower())
        for key, wanted in keys.items():
            if match is None or key.lower() != "aws:principalarn":
                return False  # a condition this layer cannot evaluate: the statement fails closed
            if not any(match(caller_arn, str(pattern)) for pattern in _listed(wanted)):
                return False
    return True
