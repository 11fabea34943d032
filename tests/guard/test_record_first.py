"""Record, then change (issue 20): a trip that dies between any record and its change still
leaves an account that restore returns to its pre-trip snapshot.

The pre-trip account holds every kind of capacity a trip changes: running on-demand instances, a
stop-protected one, an Auto Scaling group (one process already suspended), a `maintain` Spot
Fleet and EC2 Fleet, an open Spot request, and an IAM user with an active and an inactive access
key under `lockout: users`. For each change the trip makes, a fault is injected into the guard's
own clients at that change's API call: just before it (its record is written, the change never
happens) and just after it succeeded (the change is made, nothing after it runs). Each fault is
both a crash (an exception the guard does not expect: the code path dies where it stands, the
other threads finish) and a Lambda timeout (from that moment no call of the invocation reaches
AWS). The trip fails there; `run_restore` with fresh clients, as `runawaytrain restore
--restart-instances` runs it, must then bring back the snapshot without an error. The cancelled
Spot request cannot come back (a cancelled request is never reopened): restore lists it instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.notify import compose_body
from guard.settings import Action, Lockout, Settings
from tests.guard.accounts import create_group, snapshot
from tests.guard.conftest import AMI, HOME, instance_tags

ACCOUNT = "123456789012"
RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
TAG_PREFIX = "runawaytrain:"


# One loader for every session these tests make: each new botocore session would otherwise
# parse the service models again (about a second per session), twice per test.
LOADER = botocore.loaders.create_loader()


def new_session() -> boto3.session.Session:
    """A session of its own (its own event hooks), as each invocation has."""
    core = botocore.session.Session()
    core.register_component("data_loader", LOADER)
    return boto3.session.Session(botocore_session=core, region_name=HOME)


class Crash(Exception):  # noqa: N818 -- what happens, not an error the guard could handle
    """An error the guard does not expect (a bug, memory): its code path dies where it stands."""


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on, no call of it reaches AWS."""


@dataclass(frozen=True)
class Change:
    """One change a trip makes, the record restore needs written before it, and its API call."""

    name: str
    record: str
    operation: str


CHANGES = (
    Change("suspend-processes", "group tags: incident, suspended processes", "SuspendProcesses"),
    Change("zero-spot-fleet", "fleet tags: incident, capacity", "ModifySpotFleetRequest"),
    Change("zero-ec2-fleet", "fleet tags: incident, capacity", "ModifyFleet"),
    Change("cancel-spot-request", "request tag: incident", "CancelSpotInstanceRequests"),
    Change("terminate-one-time-spot", "fleet tags (capacity)", "TerminateInstances"),
    Change("stop", "instance tag: incident", "StopInstances"),
    Change("lift-stop-protection", "instance tags: incident, lifted", "ModifyInstanceAttribute"),
    Change("deactivate-key", "user tags: incident, keys, partial", "UpdateAccessKey"),
    Change("attach-deny", "user tags: incident, deny, partial", "AttachUserPolicy"),
)


class Fault:
    """Dies once, at the first `operation` call of the guard's clients: `before` it is sent or
    `after` it succeeded; as a crash, or as a timeout after which every call dies too."""

    def __init__(self, operation: str, when: str, kind: str) -> None:
        self.operation, self.when, self.kind = operation, when, kind
        self.fired = False
        self.timed_out = False

    def install(self, session: boto3.session.Session) -> None:
        session.events.register("before-call", self.before_call)
        session.events.register("after-call", self.after_call)

    def before_call(self, model: Any, **_: Any) -> None:
        if self.timed_out:
            raise LambdaTimeout(f"{model.name} after the timeout")
        if self.when == "before" and model.name == self.operation:
            self.fire()

    def after_call(self, model: Any, http_response: Any, **_: Any) -> None:
        succeeded = http_response.status_code < 300
        if self.when == "after" and model.name == self.operation and succeeded:
            self.fire()

    def fire(self) -> None:
        if self.fired:
            return
        self.fired = True
        if self.kind == "timeout":
            self.timed_out = True
            raise LambdaTimeout(f"{self.when} {self.operation}")
        raise Crash(f"{self.when} {self.operation}")


@dataclass
class Account:
    """The ids the snapshot follows (fleet instances are replaced: their fleets' capacity is)."""

    instances: list[str]
    protected: str
    spot_fleet: str
    ec2_fleet: str
    open_request: str


def launch(count: int, **extra: Any) -> list[str]:
    response = boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro", **extra
    )
    return [instance["InstanceId"] for instance in response["Instances"]]


def build_account() -> Account:
    ec2 = boto3.client("ec2", region_name=HOME)
    iam = boto3.client("iam", region_name=HOME)
    iam.create_user(UserName="dev", Tags=[{"Key": "team", "Value": "vision"}])
    iam.create_access_key(UserName="dev")
    retired = iam.create_access_key(UserName="dev")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="dev", AccessKeyId=retired, Status="Inactive")
    on_demand = launch(2)
    [protected] = launch(1, DisableApiStop=True)
    create_group(HOME, "render", 2, suspended=["AZRebalance"])
    autoscaling = boto3.client("autoscaling", region_name=HOME)
    [group] = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    spot_fleet = ec2.request_spot_fleet(
        SpotFleetRequestConfig={
            "TargetCapacity": 1,
            "IamFleetRole": f"arn:aws:iam::{ACCOUNT}:role/fleet",
            "Type": "maintain",
            "AllocationStrategy": "lowestPrice",
            "LaunchSpecifications": [{"ImageId": AMI, "InstanceType": "t3.micro"}],
        }
    )["SpotFleetRequestId"]
    template = ec2.create_launch_template(
        LaunchTemplateName="fleet", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2_fleet = ec2.create_fleet(
        Type="maintain",
        TargetCapacitySpecification={"TotalTargetCapacity": 1, "DefaultTargetCapacityType": "spot"},
        LaunchTemplateConfigs=[
            {"LaunchTemplateSpecification": {"LaunchTemplateId": template, "Version": "$Latest"}}
        ],
    )["FleetId"]
    # scheduled for tomorrow: open, and it would launch then (strict_aws/ec2_fleets.py)
    open_request = ec2.request_spot_instances(
        ValidFrom=datetime.now(UTC) + timedelta(days=1),
        LaunchSpecification={"ImageId": AMI, "InstanceType": "t3.micro"},
    )["SpotInstanceRequests"][0]["SpotInstanceRequestId"]
    members = [instance["InstanceId"] for instance in group["Instances"]]
    return Account(
        [*on_demand, protected, *members], protected, spot_fleet, ec2_fleet, open_request
    )


def account_state(account: Account) -> dict[str, Any]:
    """Everything a trip changes that restore must put back, in comparable form."""
    ec2 = boto3.client("ec2", region_name=HOME)
    instances = {}
    for instance in account.instances:
        [reservation] = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        described = reservation["Instances"][0]
        protection = ec2.describe_instance_attribute(
            InstanceId=instance, Attribute="disableApiStop"
        )
        instances[instance] = {
            "state": described["State"]["Name"],
            "stop protection": protection["DisableApiStop"]["Value"],
            "tags": instance_tags(HOME, instance),
        }
    [spot_fleet] = ec2.describe_spot_fleet_requests(SpotFleetRequestIds=[account.spot_fleet])[
        "SpotFleetRequestConfigs"
    ]
    [ec2_fleet] = ec2.describe_fleets(FleetIds=[account.ec2_fleet])["Fleets"]
    fleets = {
        account.spot_fleet: (
            spot_fleet["SpotFleetRequestConfig"]["TargetCapacity"],
            {tag["Key"]: tag["Value"] for tag in spot_fleet.get("Tags", [])},
        ),
        account.ec2_fleet: (
            ec2_fleet["TargetCapacitySpecification"]["TotalTargetCapacity"],
            {tag["Key"]: tag["Value"] for tag in ec2_fleet.get("Tags", [])},
        ),
    }
    return {"instances": instances, "fleets": fleets, **snapshot((HOME,))}


def trip_settings(inbox: Any) -> Settings:
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, lockout=Lockout.USERS)


@pytest.fixture
def account(strict: Any) -> Iterator[Account]:
    yield build_account()


@pytest.mark.parametrize("kind", ["crash", "timeout"])
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("change", CHANGES, ids=[change.name for change in CHANGES])
def test_restore_brings_back_the_pre_trip_account_whenever_the_trip_dies(
    account: Account, inbox: Any, change: Change, when: str, kind: str
) -> None:
    before = account_state(account)
    session = new_session()
    fault = Fault(change.operation, when, kind)
    fault.install(session)

    with pytest.raises((Crash, LambdaTimeout)):
        run_guard(trip_settings(inbox), Invocation(), ClientFactory(session), ACCOUNT)
    assert fault.fired, f"the trip never called {change.operation}"

    fresh = ClientFactory(new_session())
    restored = run_restore(trip_settings(inbox), RESTART, fresh, ACCOUNT, sleep=lambda _: None)

    assert restored.restore is not None, restored.reason
    assert restored.restore["errors"] == {}
    assert account_state(account) == before
    ec2 = boto3.client("ec2", region_name=HOME)
    [request] = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[account.open_request])[
        "SpotInstanceRequests"
    ]
    assert not [tag for tag in request.get("Tags", []) if tag["Key"].startswith(TAG_PREFIX)]
    cancelled = request["State"] == "cancelled"
    listed = f"{HOME}/{account.open_request}" in restored.restore["spot_requests_cancelled"]
    assert listed == cancelled  # what restore cannot undo, it says
    assert (account.open_request in compose_body(restored)) == cancelled


def test_a_lift_aws_refuses_leaves_the_instance_running_with_no_record(
    strict: Any, inbox: Any, clients: ClientFactory
) -> None:
    plain = launch(2)
    [protected] = launch(1, DisableApiStop=True)

    def refuse(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "UnauthorizedOperation", "Message": "not allowed"}},
            "ModifyInstanceAttribute",
        )

    clients.client("ec2", HOME).meta.events.register(
        "before-call.ec2.ModifyInstanceAttribute", refuse
    )

    report = run_guard(trip_settings(inbox), Invocation(), clients, ACCOUNT)

    assert sorted(report.stopped) == sorted(plain)
    assert "UnauthorizedOperation" in report.not_stopped[protected]
    assert not [key for key in instance_tags(HOME, protected) if key.startswith(TAG_PREFIX)]
