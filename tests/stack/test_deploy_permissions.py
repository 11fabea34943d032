"""`cdk deploy`, an update and `cdk destroy` cannot stop on AccessDenied under the narrow
execution policy: every create, read, update and delete handler permission that CloudFormation
publishes for each resource of every synthesized template is allowed by the policy
`runawaytrain bootstrap-commands --policy` prints, for the resources the stacks create
(tests/stack/deploy_permissions.py says how a permission becomes a request), and the policy
allows nothing these requests do not use.
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from runawaytrain_stack.bootstrap import build_execution_policy
from tests.stack.deploy_permissions import Request, Unmapped, list_handler_requests
from tests.stack.iam_reference import is_allowed
from tests.stack.template_policies import load_stacks

FLEETS = ["sample_app", "spend_limits_app", "organization_app"]


def handler_requests(app) -> tuple[list[Request], list[Unmapped]]:
    requests, unmapped = [], []
    for stack in load_stacks(app.outdir):
        for found in list_handler_requests(stack):
            (requests if isinstance(found, Request) else unmapped).append(found)
    return requests, unmapped


def describe_denied(policy: dict, requests: list[Request]) -> list[str]:
    return sorted(
        {
            f"{r.stack}/{r.logical_id} ({r.resource_type}, {'/'.join(r.handlers)}): "
            f"{r.permission} on {r.resource} is not allowed"
            for r in requests
            if not is_allowed(policy, r.permission, r.resource, r.context)
        }
    )


@pytest.mark.parametrize("app_fixture", FLEETS)
def test_execution_policy_allows_every_handler_permission(
    request: pytest.FixtureRequest, app_fixture: str
) -> None:
    app, _ = request.getfixturevalue(app_fixture)
    requests, unmapped = handler_requests(app)
    print(  # shown with -s: the figures the closing note quotes
        f"{app_fixture}: {len({r.resource_type for r in requests})} resource types, "
        f"{len({(r.stack, r.logical_id) for r in requests})} resources, "
        f"{len({r.permission for r in requests})} permissions, "
        f"{len({(r.permission, r.resource, r.stack) for r in requests})} requests"
    )
    assert [f"{u.where}: {u.permission}: {u.reason}" for u in unmapped] == []
    denied = describe_denied(build_execution_policy(), requests)
    assert denied == [], "\n".join(denied)


def test_execution_policy_allows_nothing_the_stacks_do_not_use(
    request: pytest.FixtureRequest,
) -> None:
    """Each statement, and each action a statement names, serves some handler request of the
    fleets (service wildcards count as one action)."""
    requests = [
        found
        for fleet in FLEETS
        for found in handler_requests(request.getfixturevalue(fleet)[0])[0]
    ]
    policy = build_execution_policy()
    used: Counter[str] = Counter()
    for statement in policy["Statement"]:
        alone = {"Version": "2012-10-17", "Statement": [statement]}
        for action in statement["Action"]:
            narrowed = {**alone, "Statement": [{**statement, "Action": [action]}]}
            used[f"{statement['Sid']} {action}"] += sum(
                is_allowed(narrowed, r.permission, r.resource, r.context) for r in requests
            )
    assert [key for key, count in used.items() if count == 0] == []


def test_removing_one_needed_permission_is_reported(sample_app) -> None:
    """The check above is live: without events:PutPermission the billing bus policies fail."""
    policy = copy.deepcopy(build_execution_policy())
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "events:PutPermission"]
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    denied = describe_denied(policy, handler_requests(sample_app[0])[0])
    assert denied
    assert all("events:PutPermission on * is not allowed" in line for line in denied)
    assert any("AWS::Events::EventBusPolicy" in line for line in denied)
