"""Service control policies in effect: whether the SCPs above a member account deny a request.

moto stores SCPs and their attachments (organizations.py makes that strict) and evaluates none.
AWS evaluates, for every request by a principal of a member account, the SCPs attached to the
account, to each OU above it and to the root; an explicit Deny in any of them refuses the
request, for every user and role of the account and its root user, but never for service-linked
roles nor in the management account ("SCPs affect all users and roles in attached accounts,
including the root user"; "SCPs don't affect users or roles in the management account";
"SCPs don't affect service-linked roles": Organizations User Guide, "Service control policies
(SCPs)"; how statements match: IAM User Guide, "Policy evaluation logic" and "IAM JSON policy
elements: Condition operators").

Modelled: the explicit Deny statements, with Action/NotAction, Resource/NotResource and
conditions using the String and ARN operators (with IfExists, ForAnyValue/ForAllValues) and
Null on the request's context keys. A key the request lacks fails a positive operator and
satisfies a negated one (StringNotEquals, ArnNotLike, ...), as IAM evaluates them. Not modelled:
the Allow side (AWS attaches FullAWSAccess to every root, OU and account when SCPs are enabled;
an account left without any Allow would be refused everything, here it is not); any other
condition operator raises, so an SCP the product relies on is never misread in silence.

Services ask `denying_policy` before acting (bedrock_runtime.py). EC2 does not: its only SCP
here is a closed Region (scp_regions.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

SERVICE_LINKED_PATH = ":role/aws-service-role/"
_STRING_TESTS = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")


def denying_policy(
    account_id: str, principal_arn: str, action: str, resource: str, region: str
) -> str | None:
    """The name of an SCP that denies `principal_arn` (a user's or role's ARN, as
    `aws:PrincipalArn` holds it) `action` on `resource` in `region`, or None."""
    if SERVICE_LINKED_PATH in principal_arn:
        return None
    context = {
        "aws:principalarn": principal_arn,
        "aws:principalaccount": account_id,
        "aws:requestedregion": region,
    }
    for name, document in list_scps_in_effect(account_id):
        if document_denies(document, action, resource, context):
            return name
    return None


def document_denies(
    document: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    """Whether a Deny statement of one SCP document matches the request (`context`: condition
    keys, any case, e.g. aws:PrincipalArn)."""
    lowered = {key.lower(): value for key, value in context.items()}
    return any(_denies(s, action, resource, lowered) for s in _statements(document))


def list_scps_in_effect(account_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, document) of every SCP attached to the account, the OUs above it and the root;
    none for an account in no organization, or the management account."""
    from strict_aws.organizations import find_lineage

    found = find_lineage(account_id)
    if found is None:
        return []
    organization, targets = found
    if account_id == organization.master_account_id:
        return []
    return [
        (policy.name, json.loads(policy.content))
        for target in targets
        for policy in target.attached_policies
        if policy.type == "SERVICE_CONTROL_POLICY"
    ]


def _denies(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    if "Action" in statement:
        if not any(_glob(p, action, fold=True) for p in _as_list(statement["Action"])):
            return False
    elif any(_glob(p, action, fold=True) for p in _as_list(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_glob(p, resource) for p in _as_list(statement["Resource"])):
            return False
    elif any(_glob(p, resource) for p in _as_list(statement.get("NotResource", []))):
        return False
    return all(
        _condition_holds(operator, key, _as_list(wanted), context)
        for operator, pairs in statement.get("Condition", {}).items()
        for key, wanted in pairs.items()
    )


def _condition_holds(
    operator: str, key: str, wanted: list[str], context: Mapping[str, str]
) -> bool:
    present = context.get(key.lower())
    if operator == "Null":
        return (present is None) == (str(wanted[0]).lower() == "true")
    qualifier, _, test = operator.rpartition(":")
    if_exists = test.endswith("IfExists")
    test = test.removesuffix("IfExists")
    negated = "Not" in test
    test = test.replace("Not", "")
    if test not in _STRING_TESTS:
        raise NotImplementedError(f"strict_aws SCPs: condition operator {operator} not modelled")
    if present is None:
        return if_exists or negated or qualifier == "ForAllValues"
    if test.startswith("Arn"):
        matched = any(_arn_matches(w, present, like=test == "ArnLike") for w in wanted)
    else:
        matched = any(_glob(w, present) if test == "StringLike" else w == present for w in wanted)
    return not matched if negated else matched


def _arn_matches(pattern: str, arn: str, *, like: bool) -> bool:
    """ArnLike compares each of the six colon-separated parts on its own."""
    if not like:
        return pattern == arn
    ours, theirs = pattern.split(":", 5), arn.split(":", 5)
    return len(ours) == len(theirs) == 6 and all(
        _glob(a, b) for a, b in zip(ours, theirs, strict=True)
    )


def _glob(pattern: str, value: str, *, fold: bool = False) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return _regex(pattern).fullmatch(value) is not None


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(
        ".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")),
        re.DOTALL,
    )


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
