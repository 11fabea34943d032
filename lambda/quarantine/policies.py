"""Attach and detach one account's quarantine SCPs (one or more, attached together): idempotent,
and every refusal explained.

Organizations API Reference: AttachPolicy answers DuplicatePolicyAttachmentException when the
policy is already attached, and ConstraintViolationException with Reason
POLICY_NUMBER_LIMIT_EXCEEDED when the target already has the most policies of that type (5 SCPs
per account, Organizations quotas); DetachPolicy answers PolicyNotAttachedException when it is
not attached. Both are "already done" here, so a repeated request changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SCP = "SERVICE_CONTROL_POLICY"
ALREADY = {"attach": "DuplicatePolicyAttachmentException", "detach": "PolicyNotAttachedException"}
# What the payer's people can do about each refusal, said in the mail.
ADVICE = {
    "POLICY_NUMBER_LIMIT_EXCEEDED": "the account already has 5 SCPs attached directly, the most "
    "AWS allows (FullAWSAccess counts: never detach it, or every action is denied, break-glass "
    "included). List them (aws organizations list-policies-for-target --target-id {account} "
    "--filter SERVICE_CONTROL_POLICY), move a team policy to the account's OU, then attach "
    "{policy} (aws organizations attach-policy --policy-id {policy} --target-id {account})",
    "PolicyTypeNotEnabledException": "service control policies are not enabled in the "
    "organization: aws organizations enable-policy-type --root-id <root> --policy-type "
    "SERVICE_CONTROL_POLICY",
    "PolicyNotFoundException": "the policy {name} is missing: redeploy the payer stack "
    "(npx cdk deploy runawaytrain-payer)",
    "AccessDeniedException": "the quarantine function's role may not do this: redeploy the "
    "payer stack",
}


@dataclass(frozen=True)
class Outcome:
    changed: bool  # attached (or detached) by this call
    error: str | None = None  # refused: what AWS said
    advice: str = ""  # what to do about it

    @property
    def ok(self) -> bool:
        return self.error is None


def find_policy_id(organizations: Any, name: str) -> str | None:
    """The id of the SCP named `name` (names are unique per organization)."""
    return dict(find_policy_ids(organizations, name)).get(name)


def find_policy_ids(organizations: Any, base: str) -> list[tuple[str, str]]:
    """(name, id) of an account's quarantine SCPs, first to last: the one named `base`, then
    `base-2`, `base-3`, ... (runawaytrain_stack/names.py name_quarantine_policy)."""
    found = []
    for page in organizations.get_paginator("list_policies").paginate(Filter=SCP):
        for policy in page["Policies"]:
            number = piece_number(policy["Name"], base)
            if number is not None:
                found.append((number, policy["Name"], policy["Id"]))
    return [(name, policy_id) for _, name, policy_id in sorted(found)]


def piece_number(name: str, base: str) -> int | None:
    """1 for `base`, n for `base-n` (n >= 2), None for any other name."""
    if name == base:
        return 1
    suffix = name.removeprefix(f"{base}-")
    if suffix != name and suffix.isdigit() and not suffix.startswith("0") and int(suffix) > 1:
        return int(suffix)
    return None


def change(organizations: Any, verb: str, policy_id: str, account: str, name: str) -> Outcome:
    """`verb` is attach or detach; `name` the policy's name, for the advice."""
    call = organizations.attach_policy if verb == "attach" else organizations.detach_policy
    try:
        call(PolicyId=policy_id, TargetId=account)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == ALREADY[verb]:
            return Outcome(changed=False)
        reason = error.response.get("Reason") or code
        advice = ADVICE.get(reason) or ADVICE.get(code, "see the payer's quarantine logs")
        message = error.response["Error"].get("Message", "")
        return Outcome(
            changed=False,
            error=f"{code} ({reason}): {message}" if reason != code else f"{code}: {message}",
            advice=advice.format(account=account, policy=policy_id, name=name),
        )
    except BotoCoreError as error:
        return Outcome(changed=False, error=f"{type(error).__name__}: {error}", advice="")
    return Outcome(changed=True)
