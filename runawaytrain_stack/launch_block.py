"""The launch-block policy: a customer managed policy of the guard's own stack that denies every
launch action (launch_actions.py). A trip attaches it to every principal the guard may touch
(lambda/guard/launch_block.py) and restore detaches it.

Managed, not inline: the guard's role may attach and detach exactly this policy (its ARN in an
`iam:PolicyARN` condition, permissions.py) and may put no inline policy for it, since whoever may
write an inline policy may write any. It exists whether or not `launch_block` is on, so turning
the setting off never deletes a policy still attached ("Before you can delete a managed policy,
you must first detach the policy from all users, groups, and roles that it is attached to", IAM
API Reference, DeletePolicy) and restore can always lift it.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import aws_iam as iam
from constructs import Construct

from runawaytrain_stack.launch_actions import LAUNCH_ACTIONS
from runawaytrain_stack.names import LAUNCH_BLOCK_POLICY_NAME, ROLE_PATH

# A managed policy document holds at most 6,144 characters, white space not counted (IAM User
# Guide, "IAM and AWS STS quotas"); checked by the stack tests.
MAX_MANAGED_POLICY_CHARACTERS = 6144


def build_launch_block_document() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoLaunchesUntilRestore",
                "Effect": "Deny",
                "Action": list(LAUNCH_ACTIONS),
                "Resource": "*",
            }
        ],
    }


def policy_characters(document: dict[str, Any]) -> int:
    """What the quota counts: the document without white space."""
    return len(json.dumps(document, separators=(",", ":")))


class LaunchBlockPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=LAUNCH_BLOCK_POLICY_NAME,
            path=ROLE_PATH,
            description="runawaytrain: attached by the guard at a trip, detached by restore; "
            "denies launching or starting compute",
            document=iam.PolicyDocument.from_json(build_launch_block_document()),
        )

    @property
    def policy_arn(self) -> str:
        return self.policy.managed_policy_arn
