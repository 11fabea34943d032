"""The strict-AWS layer: each test asserts what a real AWS caller would see."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from strict_aws import PENDING_SECONDS_ENV, StrictAWS, strict_aws
from tests.strict_aws.conftest import FakeClock
from tests.strict_aws.ec2_calls import AMI, REGION, ec2, error_of, launch, state_of


def test_launched_and_started_instances_are_pending_until_the_clock_passes(
    strict: StrictAWS, clock: FakeClock
) -> None:
    [instance_id] = launch()
    assert state_of(instance_id) == "pending"
    clock.now += 30
    assert state_of(instance_id) == "running"

    ec2().stop_instances(InstanceIds=[instance_id])
    assert state_of(instance_id) == "stopped"
    started = ec2().start_instances(InstanceIds=[instance_id])["StartingInstances"][0]
    assert started["CurrentState"]["Name"] == "pending"
    assert started["PreviousState"]["Name"] == "stopped"
    assert state_of(instance_id) == "pending"
    strict.make_running([instance_id])
    assert state_of(instance_id) == "running"


def test_stop_refuses_pending_spot_and_protected_instances_all_or_nothing(
    strict: StrictAWS, clock: FakeClock
) -> None:
    [pending] = launch()
    [ordinary] = launch()
    [protected] = launch(DisableApiStop=True)
    [spot] = launch(InstanceMarketOptions={"MarketType": "spot"})
    [persistent] = launch(
        InstanceMarketOptions={
            "MarketType": "spot",
            "SpotOptions": {
                "SpotInstanceType": "persistent",
                "InstanceInterruptionBehavior": "stop",
            },
        }
    )
    strict.make_running([ordinary, protected, spot, persistent])
    stop = ec2().stop_instances

    code, message = error_of(stop, InstanceIds=[ordinary, pending])
    assert code == "IncorrectInstanceState"
    assert message == (
        f"Instance '{pending}' cannot be stopped as it has never reached the 'running' state."
    )
    assert state_of(ordinary) == "running"  # nothing stopped

    code, message = error_of(stop, InstanceIds=[ordinary, spot])
    assert code == "UnsupportedOperation"
    assert message.startswith(f"You can't stop the Spot Instance '{spot}' because it is")

    code, message = error_of(stop, InstanceIds=[protected, ordinary])
    assert (code, message) == (
        "OperationNotPermitted",
        f"The instance '{protected}' may not be stopped. Modify its 'disableApiStop' instance "
        "attribute and try again.",
    )
    ec2().modify_instance_attribute(InstanceId=protected, DisableApiStop={"Value": False})
    attribute = ec2().describe_instance_attribute(InstanceId=protected, Attribute="disableApiStop")
    assert attribute["DisableApiStop"]["Value"] is False

    ec2().modify_instance_attribute(InstanceId=ordinary, DisableApiTermination={"Value": True})
    code, _ = error_of(ec2().terminate_instances, InstanceIds=[persistent, ordinary])
    assert code == "OperationNotPermitted"
    assert state_of(persistent) == "running"  # termination protection: all or nothing

    stopped = stop(InstanceIds=[ordinary, protected, persistent])["StoppingInstances"]
    assert {s["InstanceId"] for s in stopped} == {ordinary, protected, persistent}


def test_start_with_customer_managed_key_and_no_create_grant_ends_stopped(
    strict: StrictAWS,
) -> None:
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    [instance_id] = launch(
        BlockDeviceMappings=[
            {
                "DeviceName": "/dev/sda1",
                "Ebs": {"VolumeSize": 8, "Encrypted": True, "KmsKeyId": key_id},
            }
        ]
    )
    strict.make_running()
    ec2().stop_instances(InstanceIds=[instance_id])

    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="scheduler")
    iam.put_user_policy(
        UserName="scheduler",
        PolicyName="ec2-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="scheduler")["AccessKey"]
    as_scheduler = boto3.client(
        "ec2",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=None,
    )
    answer = as_scheduler.start_instances(InstanceIds=[instance_id])["StartingInstances"][0]
    assert answer["CurrentState"]["Name"] == "pending"  # the call itself succeeds
    strict.make_running([instance_id])
    instance = ec2().describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    assert instance[0]["State"]["Name"] == "stopped"
    assert instance[0]["StateReason"] == {
        "Code": "Client.InternalError",
        "Message": "Client.InternalError: Client error on launch",
    }

    ec2().start_instances(InstanceIds=[instance_id])  # moto's default key: the root, allowed
    strict.make_running([instance_id])
    assert state_of(instance_id) == "running"


def test_health_checks_replace_stopped_instances_only_when_processes_allow(
    strict: StrictAWS,
) -> None:
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    ec2().create_launch_template(
        LaunchTemplateName="asg-template",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t2.micro"},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="asg",
        LaunchTemplate={"LaunchTemplateName": "asg-template"},
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=[f"{REGION}a"],
    )

    def members() -> list[str]:
        groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["asg"])
        return [i["InstanceId"] for i in groups["AutoScalingGroups"][0]["Instances"]]

    first = members()
    strict.make_running(first)
    assert strict.run_health_checks() == []  # all running: healthy

    autoscaling.suspend_processes(AutoScalingGroupName="asg")
    ec2().stop_instances(InstanceIds=first)
    assert strict.run_health_checks() == []  # HealthCheck suspended
    autoscaling.set_desired_capacity(AutoScalingGroupName="asg", DesiredCapacity=1)
    assert sorted(members()) == sorted(first)  # Terminate suspended: no scale-in
    autoscaling.set_desired_capacity(AutoScalingGroupName="asg", DesiredCapacity=2)

    autoscaling.resume_processes(
        AutoScalingGroupName="asg", ScalingProcesses=["HealthCheck", "ReplaceUnhealthy"]
    )  # the pass on resume terminates both; Launch still suspended: no replacement
    assert members() == []
    assert {state_of(i) for i in first} == {"terminated"}

    autoscaling.resume_processes(AutoScalingGroupName="asg")
    autoscaling.set_desired_capacity(AutoScalingGroupName="asg", DesiredCapacity=2)
    assert len(members()) == 2
    assert not set(members()) & set(first)


def fleet_instances(fleet_id: str) -> list[str]:
    if fleet_id.startswith("sfr-"):
        found = ec2().describe_spot_fleet_instances(SpotFleetRequestId=fleet_id)
    else:
        found = ec2().describe_fleet_instances(FleetId=fleet_id)
    return [i["InstanceId"] for i in found["ActiveInstances"]]


def test_maintain_fleets_replace_terminated_capacity_until_target_is_zero(
    strict: StrictAWS,
) -> None:
    client = ec2()
    sfr = client.request_spot_fleet(
        SpotFleetRequestConfig={
            "TargetCapacity": 2,
            "IamFleetRole": "arn:aws:iam::123456789012:role/fleet",
            "AllocationStrategy": "lowestPrice",
            "Type": "maintain",
            "LaunchSpecifications": [{"ImageId": AMI, "InstanceType": "t2.micro"}],
        }
    )["SpotFleetRequestId"]
    template = client.create_launch_template(
        LaunchTemplateName="fleet", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t2.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    fleet = client.create_fleet(
        Type="maintain",
        TargetCapacitySpecification={"TotalTargetCapacity": 2, "DefaultTargetCapacityType": "spot"},
        LaunchTemplateConfigs=[
            {"LaunchTemplateSpecification": {"LaunchTemplateId": template, "Version": "$Latest"}}
        ],
    )["FleetId"]
    strict.make_running()

    for fleet_id, tag in ((sfr, "aws:ec2spot:fleet-request-id"), (fleet, "aws:ec2:fleet-id")):
        client.create_tags(Resources=[fleet_id], Tags=[{"Key": "owner", "Value": "lab"}])
        before = fleet_instances(fleet_id)
        described = client.describe_instances(InstanceIds=before)["Reservations"]
        instance = described[0]["Instances"][0]
        assert instance["InstanceLifecycle"] == "spot"
        assert instance["SpotInstanceRequestId"].startswith("sir-")
        assert {"Key": tag, "Value": fleet_id} in instance["Tags"]

        client.terminate_instances(InstanceIds=before[:1])
        after = fleet_instances(fleet_id)
        assert len(after) == 2
        assert before[0] not in after
        code, _ = error_of(client.stop_instances, InstanceIds=after[:1])
        assert code == "UnsupportedOperation"  # fleet spot capacity is one-time

    sfr_config = client.describe_spot_fleet_requests(SpotFleetRequestIds=[sfr])
    assert {"Key": "owner", "Value": "lab"} in sfr_config["SpotFleetRequestConfigs"][0]["Tags"]
    # The guard tells maintain from request fleets by this (moto leaves it out).
    assert sfr_config["SpotFleetRequestConfigs"][0]["SpotFleetRequestConfig"]["Type"] == "maintain"
    assert {"Key": "owner", "Value": "lab"} in client.describe_fleets(FleetIds=[fleet])["Fleets"][
        0
    ]["Tags"]

    client.modify_spot_fleet_request(
        SpotFleetRequestId=sfr, TargetCapacity=0, ExcessCapacityTerminationPolicy="noTermination"
    )
    client.modify_fleet(
        FleetId=fleet,
        TargetCapacitySpecification={"TotalTargetCapacity": 0},
        ExcessCapacityTerminationPolicy="no-termination",
    )
    for fleet_id in (sfr, fleet):
        survivors = fleet_instances(fleet_id)
        assert len(survivors) == 2  # no-termination keeps them
        client.terminate_instances(InstanceIds=survivors)
        assert fleet_instances(fleet_id) == []  # target 0: nothing replaced


def test_a_spot_request_scheduled_for_later_stays_open_and_a_cancelled_one_stays_listed(
    strict: StrictAWS,
) -> None:
    client = ec2()
    spec = {"ImageId": AMI, "InstanceType": "t2.micro"}
    scheduled = client.request_spot_instances(
        ValidFrom=datetime.now(UTC) + timedelta(days=1), LaunchSpecification=spec
    )["SpotInstanceRequests"][0]
    active = client.request_spot_instances(LaunchSpecification=spec)["SpotInstanceRequests"][0]

    assert (scheduled["State"], scheduled["Status"]["Code"]) == ("open", "not-scheduled-yet")
    assert "InstanceId" not in scheduled
    assert active["State"] == "active"
    assert len(client.describe_instances()["Reservations"]) == 1  # only the active one launched

    ids = [scheduled["SpotInstanceRequestId"], active["SpotInstanceRequestId"]]
    client.cancel_spot_instance_requests(SpotInstanceRequestIds=ids)
    listed = client.describe_spot_instance_requests(SpotInstanceRequestIds=ids)
    states = {
        r["SpotInstanceRequestId"]: (r["State"], r["Status"]["Code"])
        for r in listed["SpotInstanceRequests"]
    }
    assert states == {
        ids[0]: ("cancelled", "canceled-before-fulfillment"),
        ids[1]: ("cancelled", "request-canceled-and-instance-running"),
    }
    assert state_of(active["InstanceId"]) == "pending"  # cancelling never terminates
    live = client.describe_spot_instance_requests(
        Filters=[{"Name": "state", "Values": ["open", "active"]}]
    )
    assert live["SpotInstanceRequests"] == []


def test_protected_roles_refuse_changes(strict: StrictAWS) -> None:
    iam = boto3.client("iam", region_name=REGION)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    name = "AWSReservedSSO_AdministratorAccess_0123456789abcdef"
    iam.create_role(
        RoleName=name, Path="/aws-reserved/sso.amazonaws.com/", AssumeRolePolicyDocument=trust
    )
    iam.create_role(
        RoleName="AWSServiceRoleForSupport",
        Path="/aws-service-role/",
        AssumeRolePolicyDocument=trust,
    )
    iam.create_role(RoleName="ordinary", AssumeRolePolicyDocument=trust)
    deny = "arn:aws:iam::aws:policy/AWSDenyAll"
    for role in (name, "AWSServiceRoleForSupport"):
        for call, kwargs in (
            (iam.attach_role_policy, {"PolicyArn": deny}),
            (iam.detach_role_policy, {"PolicyArn": deny}),
            (iam.put_role_policy, {"PolicyName": "p", "PolicyDocument": trust}),
            (iam.delete_role_policy, {"PolicyName": "p"}),
            (iam.update_assume_role_policy, {"PolicyDocument": trust}),
            (iam.delete_role, {}),
        ):
            code, message = error_of(call, RoleName=role, **kwargs)
            assert code == "UnmodifiableEntity"
            assert message == (
                f"Cannot perform the operation on the protected role '{role}' - this role is "
                "only modifiable by AWS"
            )
    iam.tag_role(RoleName=name, Tags=[{"Key": "k", "Value": "v"}])  # not refused (see module)
    iam.attach_role_policy(RoleName="ordinary", PolicyArn=deny)


def test_scp_denied_region_fails_every_ec2_call_with_403(strict: StrictAWS) -> None:
    strict.deny_region_by_scp("eu-west-1")
    denied = boto3.client("ec2", region_name="eu-west-1")
    with pytest.raises(ClientError) as caught:
        denied.describe_instance_status()
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "UnauthorizedOperation"
    assert error["Error"]["Message"] == (
        "You are not authorized to perform this operation. User: arn:aws:iam::123456789012:root "
        "is not authorized to perform: ec2:DescribeInstanceStatus with an explicit deny in a "
        "service control policy"
    )
    ec2().describe_instance_status()  # other regions answer


def test_layer_uninstalls_cleanly_and_can_be_entered_again() -> None:
    with mock_aws():
        for _ in range(2):
            with strict_aws(pending_seconds=3600) as layer:
                [instance_id] = launch()
                assert state_of(instance_id) == "pending"
                layer.deny_region_by_scp("eu-west-1")
        assert state_of(instance_id) == "running"  # settled on exit
        [fresh] = launch(DisableApiStop=True)
        assert state_of(fresh) == "running"  # moto lenient again
        boto3.client("ec2", region_name="eu-west-1").describe_instances()
        _, message = error_of(ec2().stop_instances, InstanceIds=[fresh])
        assert "may not be terminated" in message  # moto's own (wrong) text is back


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_entry_refuses_to_stop_a_pending_instance() -> None:
    port = free_port()
    env = {**os.environ, PENDING_SECONDS_ENV: "600"}
    server = subprocess.Popen(
        [sys.executable, "-m", "strict_aws", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=f"http://127.0.0.1:{port}",
            config=Config(retries={"max_attempts": 1}),
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                client.describe_regions()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        [instance_id] = [
            i["InstanceId"]
            for i in client.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"]
        ]
        code, _ = error_of(client.stop_instances, InstanceIds=[instance_id])
        assert code == "IncorrectInstanceState"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_auto_scaling_spot_share_is_one_time_spot(strict: StrictAWS) -> None:
    ec2().create_launch_template(
        LaunchTemplateName="mixed", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t2.micro"}
    )
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "mixed"},
                "Overrides": [{"InstanceType": "t2.micro"}],
            },
            "InstancesDistribution": {
                "OnDemandBaseCapacity": 1,
                "OnDemandPercentageAboveBaseCapacity": 0,
            },
        },
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=3,
        AvailabilityZones=[f"{REGION}a"],
    )
    strict.make_running()
    instances = [
        i
        for r in ec2().describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] == "running"
    ]
    spot = [i["InstanceId"] for i in instances if i.get("InstanceLifecycle") == "spot"]
    on_demand = [i["InstanceId"] for i in instances if i.get("InstanceLifecycle") != "spot"]
    assert (len(spot), len(on_demand)) == (2, 1)
    listed = ec2().describe_spot_instance_requests()["SpotInstanceRequests"]
    assert sorted((r["InstanceId"], r["Type"], r["State"]) for r in listed) == sorted(
        (i, "one-time", "active") for i in spot
    )
    code, _ = error_of(ec2().stop_instances, InstanceIds=on_demand + spot)
    assert code == "UnsupportedOperation"
    ec2().stop_instances(InstanceIds=on_demand)


def test_lambda_configuration_has_a_revision_id_and_a_stale_one_is_refused(
    strict: StrictAWS,
) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_ = boto3.client("lambda", region_name=REGION)
    lambda_.create_function(
        FunctionName="fn",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"not run"},
        Environment={"Variables": {"a": "1"}},
    )
    read = lambda_.get_function_configuration(FunctionName="fn")["RevisionId"]
    updated = lambda_.update_function_configuration(
        FunctionName="fn", Environment={"Variables": {"a": "2"}}, RevisionId=read
    )
    assert updated["RevisionId"] != read
    assert (
        lambda_.get_function(FunctionName="fn")["Configuration"]["RevisionId"]
        == (updated["RevisionId"])
    )
    code, _ = error_of(
        lambda_.update_function_configuration,
        FunctionName="fn",
        Environment={"Variables": {"a": "3"}},
        RevisionId=read,
    )
    assert code == "PreconditionFailedException"
    variables = lambda_.get_function_configuration(FunctionName="fn")["Environment"]["Variables"]
    assert variables == {"a": "2"}


def test_a_principal_holds_at_most_ten_managed_policies(strict: StrictAWS) -> None:
    """The 11th managed policy is refused as IAM refuses it; re-attaching one already held is not
    counted, and the quota applies to roles as to users."""
    iam = boto3.client("iam", region_name=REGION)
    allow = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
        }
    )
    arns = [
        iam.create_policy(PolicyName=f"team-{n}", PolicyDocument=allow)["Policy"]["Arn"]
        for n in range(11)
    ]
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    iam.create_user(UserName="ana")
    iam.create_role(RoleName="ci", AssumeRolePolicyDocument=trust)
    for arn in arns[:10]:
        iam.attach_user_policy(UserName="ana", PolicyArn=arn)
        iam.attach_role_policy(RoleName="ci", PolicyArn=arn)
    iam.attach_user_policy(UserName="ana", PolicyArn=arns[0])  # already held: no new slot
    with pytest.raises(ClientError) as caught:
        iam.attach_user_policy(UserName="ana", PolicyArn=arns[10])
    assert caught.value.response["Error"]["Code"] == "LimitExceeded"
    message = caught.value.response["Error"]["Message"]
    assert message == "Cannot exceed quota for PoliciesPerUser: 10"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    code, message = error_of(iam.attach_role_policy, RoleName="ci", PolicyArn=arns[10])
    assert (code, message) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10")
    attached = iam.list_attached_user_policies(UserName="ana")["AttachedPolicies"]
    assert len(attached) == 10
