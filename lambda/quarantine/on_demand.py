"""Quarantine SCPs created at the trip and deleted at restore (fleets with an `organization`: the
payer's template holds no SCP per member, so its size does not grow with the organisation).

Attach: build the account's documents (documents.py), reuse every one that exists by name (a
repeated trip, or a restore that detached but could not delete), create the others
(CreatePolicy, tagged with the account id: the Lambda's role may attach, detach and delete only
tagged policies), note what exists, then attach each (policies.py `change`: idempotent).
Detach: detach each of the account's SCPs found by name, then delete each one detached
(DeletePolicy refuses a policy still attached: PolicyInUseException, Organizations API
Reference, DeletePolicy). A policy already gone is "already done".

IAM (runawaytrain_stack/quarantine.py): organizations:ListPolicies, CreatePolicy and TagResource
("If the request includes tags, then the requester must have the organizations:TagResource
permission", Organizations API Reference, CreatePolicy), AttachPolicy, DetachPolicy,
DeletePolicy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from quarantine.documents import render
from quarantine.policies import SCP, Outcome, change, find_policy_id, find_policy_ids

Note = Callable[[list[tuple[str, str]]], None]  # (name, id) of the account's SCPs, before acting


def names_for(base: str, count: int) -> list[str]:
    """`base`, then `base-2`, ... (policies.py piece_number reads them back)."""
    return [base, *(f"{base}-{n}" for n in range(2, count + 1))]


def attach_on_demand(
    organizations: Any,
    *,
    account: str,
    base: str,
    documents: list[dict[str, Any]],
    tag: str,
    note: Note,
) -> tuple[list[tuple[str, str]], list[Outcome]]:
    existing = dict(find_policy_ids(organizations, base))
    found: list[tuple[str, str]] = []
    outcomes: list[Outcome] = []
    for index, (name, document) in enumerate(
        zip(names_for(base, len(documents)), documents, strict=True)
    ):
        policy_id = existing.get(name)
        if policy_id is None:
            policy_id, outcome = _create(
                organizations,
                name=name,
                document=document,
                account=account,
                tag=tag,
                index=index,
                count=len(documents),
            )
            if outcome is not None:
                outcomes.append(outcome)
                continue
        found.append((name, policy_id))
    note(found)  # record, then change
    outcomes += [change(organizations, "attach", i, account, name) for name, i in found]
    return found, outcomes


def detach_on_demand(
    organizations: Any, *, account: str, base: str, note: Note
) -> tuple[list[tuple[str, str]], list[Outcome]]:
    found = find_policy_ids(organizations, base)
    note(found)
    outcomes = []
    for name, policy_id in found:
        detached = change(organizations, "detach", policy_id, account, name)
        outcomes.append(detached)
        if detached.ok:
            outcomes.append(_delete(organizations, policy_id))
    return found, outcomes


def _create(
    organizations: Any,
    *,
    name: str,
    document: dict[str, Any],
    account: str,
    tag: str,
    index: int,
    count: int,
) -> tuple[str, Outcome | None]:
    try:
        created = organizations.create_policy(
            Name=name,
            Description=f"runawaytrain: account {account} tripped; attached until restore "
            f"({index + 1} of {count})",
            Type=SCP,
            Content=render(document),
            Tags=[{"Key": tag, "Value": account}],
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "DuplicatePolicyException":  # created meanwhile: reuse it
            policy_id = find_policy_id(organizations, name)
            if policy_id is not None:
                return policy_id, None
        reason = error.response.get("Reason") or code
        message = error.response["Error"].get("Message", "")
        return "", Outcome(
            changed=False,
            error=f"{code} ({reason}): {message}" if reason != code else f"{code}: {message}",
            advice="see the payer's quarantine logs; the policy could not be created",
        )
    except BotoCoreError as error:
        return "", Outcome(changed=False, error=f"{type(error).__name__}: {error}")
    return created["Policy"]["PolicySummary"]["Id"], None


def _delete(organizations: Any, policy_id: str) -> Outcome:
    try:
        organizations.delete_policy(PolicyId=policy_id)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "PolicyNotFoundException":
            return Outcome(changed=False)
        message = error.response["Error"].get("Message", "")
        return Outcome(
            changed=False,
            error=f"{code}: {message}",
            advice="detached, but not deleted: aws organizations delete-policy "
            f"--policy-id {policy_id}",
        )
    except BotoCoreError as error:
        return Outcome(changed=False, error=f"{type(error).__name__}: {error}")
    return Outcome(changed=True)
