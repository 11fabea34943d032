"""The account's IAM users and roles as the guard reads and marks them: listed with their tags
(ListUsers and ListRoles omit tags), their attached managed policies, and tags written or removed.

Shared by the two acts that change principals (lockout.py, launch_block.py) and by restore.

IAM: iam:ListUsers, iam:ListRoles, iam:ListUserTags, iam:ListRoleTags,
iam:ListAttachedUserPolicies, iam:ListAttachedRolePolicies, iam:TagUser, iam:TagRole,
iam:UntagUser, iam:UntagRole (runawaytrain: keys only).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from guard.principals import Kind, Principal

# kind -> (paginator, list key, name key): ListUsers and ListRoles have the same shape.
_LISTINGS = {
    Kind.USER: ("list_users", "Users", "UserName"),
    Kind.ROLE: ("list_roles", "Roles", "RoleName"),
}


def list_principals(iam: Any, kinds: Iterable[Kind] = (Kind.USER, Kind.ROLE)) -> list[Principal]:
    """Every user and/or role of the account, with its tags."""
    found = []
    for kind in kinds:
        operation, key, name_key = _LISTINGS[kind]
        for page in iam.get_paginator(operation).paginate():
            for entry in page[key]:
                name = entry[name_key]
                found.append(
                    Principal(kind, name, entry.get("Path", "/"), read_tags(iam, kind, name))
                )
    return found


def who(principal: Principal) -> dict[str, str]:
    """The request parameter naming the principal: UserName or RoleName."""
    return {"UserName" if principal.kind is Kind.USER else "RoleName": principal.name}


def attached_policies(iam: Any, kind: Kind, name: str) -> set[str]:
    if kind is Kind.USER:
        pages = iam.get_paginator("list_attached_user_policies").paginate(UserName=name)
    else:
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
    return {policy["PolicyArn"] for page in pages for policy in page["AttachedPolicies"]}


def read_tags(iam: Any, kind: Kind, name: str) -> dict[str, str]:
    if kind is Kind.USER:
        pages = iam.get_paginator("list_user_tags").paginate(UserName=name)
    else:
        pages = iam.get_paginator("list_role_tags").paginate(RoleName=name)
    return {tag["Key"]: tag["Value"] for page in pages for tag in page["Tags"]}


def write_tags(iam: Any, kind: Kind, name: str, tags: dict[str, str]) -> None:
    pairs = [{"Key": key, "Value": value} for key, value in tags.items()]
    if kind is Kind.USER:
        iam.tag_user(UserName=name, Tags=pairs)
    else:
        iam.tag_role(RoleName=name, Tags=pairs)


def remove_tags(iam: Any, principal: Principal, keys: Iterable[str]) -> None:
    """Untag the keys the principal carries (an empty request changes nothing, so none is sent)."""
    present = [key for key in keys if key in principal.tags]
    if not present:
        return
    if principal.kind is Kind.USER:
        iam.untag_user(UserName=principal.name, TagKeys=present)
    else:
        iam.untag_role(RoleName=principal.name, TagKeys=present)
