"""The drill's launch probe (issue 20): a role of the tripped account that may launch instances
tries one launch after the trip (the launch block must refuse it) and the same launch after
restore (it must succeed). The role is one the guard may touch and, with lockout `users`, one
it does not lock out, so the refusal is the launch block's own; moto enforces IAM for the probe
as it does for the guard (actions only: the policy's Deny names actions, no conditions)."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_cli.drill.scenario import AMI, SEED_LAUNCHER, DrillResult
from runawaytrain_stack.fleet_model import Account

MAY_LAUNCH = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:Describe*"],
                "Resource": "*",
            }
        ],
    }
)
REFUSALS = ("AccessDenied", "UnauthorizedOperation")


def seed_launcher(emulator: Emulator, account: Account) -> None:
    """The probe's role: trusted by the account, allowed to launch."""
    iam = emulator.operator(account.id, account.home_region).client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account.id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=SEED_LAUNCHER, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=SEED_LAUNCHER, PolicyName="launch", PolicyDocument=MAY_LAUNCH)


def try_launch(emulator: Emulator, account: Account) -> tuple[bool, str]:
    """One t3.micro launch as the probe's role (a fresh session, IAM enforced); a launched
    instance is terminated at once by the operator. (launched?, the error code or its id)"""
    region = account.home_region
    operator = emulator.operator(account.id, region)
    session = emulator.assume(
        f"arn:aws:iam::{account.id}:role/{SEED_LAUNCHER}", region, via=operator
    )
    emulator.set_iam_enforcement(True)
    try:
        launched = session.client("ec2", region_name=region).run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro"
        )
    except ClientError as error:
        return False, str(error.response.get("Error", {}).get("Code", "error"))
    finally:
        emulator.set_iam_enforcement(False)
    instance = launched["Instances"][0]["InstanceId"]
    operator.client("ec2", region_name=region).terminate_instances(InstanceIds=[instance])
    return True, instance


def check_launch_refused(emulator: Emulator, result: DrillResult, tripped: Account) -> None:
    name = f"{tripped.name}: a launch by role {SEED_LAUNCHER} is refused after the trip"
    if not tripped.launch_block:
        result.skip(name, "its launch_block is false")
        return
    report = result.guards[tripped.name].report
    assert report is not None
    result.check(
        f"{tripped.name}: the launch block is attached to role {SEED_LAUNCHER}",
        f"role/{SEED_LAUNCHER}" in report.launch_blocked,
        f"blocked: {', '.join(report.launch_blocked) or 'none'}",
    )
    launched, detail = try_launch(emulator, tripped)
    result.check(
        name, not launched and detail in REFUSALS, f"launched {detail}" if launched else detail
    )


def check_launch_allowed(emulator: Emulator, result: DrillResult, tripped: Account) -> None:
    name = f"{tripped.name}: the same launch succeeds after restore"
    if not tripped.launch_block:
        result.skip(name, "its launch_block is false")
        return
    restored = (result.restore.restore if result.restore else None) or {}
    result.check(
        f"{tripped.name}: restore detached the launch block from role {SEED_LAUNCHER}",
        f"role/{SEED_LAUNCHER}" in restored.get("launch_unblocked", []),
        f"unblocked: {', '.join(restored.get('launch_unblocked') or []) or 'none'}",
    )
    launched, detail = try_launch(emulator, tripped)
    result.check(name, launched, detail)
