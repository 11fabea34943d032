"""The trip mail's undo, pasted: every command it prints, run through bash against the emulator,
from a folder with no accounts.yaml, brings the account back to its pre-trip snapshot.

A real trip (the guard's code, in-process, on the drill's moto_server) of an account with two IAM
users (keys, a managed and an inline policy, a tag; one key already inactive, which restore must
leave inactive), instances in two Regions and an Auto Scaling group whose name has a space. The
guard lives in eu-west-1 while the shell's Region is us-east-1, so the mail must name it. The
commands are read from the composed mail (never written here) and run in the order printed, with
the payer's credentials (moto's default keys, standing for an administrator of the payer, which
holds the organization). About 20 s: one moto_server, four CLI start-ups.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.notify import compose_body
from guard.open_incident import PARAMETER as OPEN_INCIDENT
from guard.settings import Lockout, Settings
from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_stack.names import GUARD_FUNCTION_OUTPUT, NOTIFY_TOPIC_OUTPUT

ACCOUNT = "222222222222"
PAYER = "123456789012"  # moto's default account: its default keys are the payer's credentials
HOME = "eu-west-1"  # the guard's Region; the shell's is us-east-1 (Emulator.cli_environment)
OTHER = "us-west-2"
REGIONS = (HOME, OTHER)
FUNCTION = "runawaytrain-guard-web-shop"
GROUP = "web tier"  # Auto Scaling names may hold spaces: shell quoting is needed
AMI = "ami-12c6146b"  # one of moto's built-in AMIs
PENDING_SECONDS = 1.0
SETTLE_TIMEOUT_S = 20.0
COMMAND_TIMEOUT_S = 60.0
# A printed command: an indented line of the undo section starting with a program's name.
COMMAND = re.compile(r"^\s+((?:runawaytrain|aws) .+)$")
UNDO_HEADING = "How to undo"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory):
    with Emulator(
        tmp_path_factory.mktemp("emulator") / "moto.log",
        pending_seconds=PENDING_SECONDS,
        # CreateOrganization draws an id for the management account (then keeps the caller's)
        account_ids=(PAYER, ACCOUNT),
    ) as running:
        yield running


def operator(emulator: Emulator, region: str = HOME) -> Any:
    return emulator.operator(ACCOUNT, region)


def make_payer_organization(emulator: Emulator) -> None:
    """The caller (moto's default keys) is the payer: its organization holds the account."""
    organizations = emulator.session("us-east-1").client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    created = organizations.create_account(Email="shop@example.com", AccountName="web shop")
    assert created["CreateAccountStatus"]["AccountId"] == ACCOUNT


def seed_users(emulator: Emulator) -> None:
    iam = operator(emulator).client("iam")
    describe_only = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
        }
    )
    for name in ("alice", "bob"):
        iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "web"}])
        iam.put_user_policy(UserName=name, PolicyName="work", PolicyDocument=describe_only)
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        iam.create_access_key(UserName=name)
    retired = iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="bob", AccessKeyId=retired, Status="Inactive")


def seed_instances(emulator: Emulator) -> None:
    for region, count in ((HOME, 2), (OTHER, 1)):
        operator(emulator, region).client("ec2").run_instances(
            ImageId=AMI,
            MinCount=count,
            MaxCount=count,
            InstanceType="t3.micro",
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "shop"}]}
            ],
        )
    session = operator(emulator)
    ec2 = session.client("ec2")
    template = ec2.create_launch_template(
        LaunchTemplateName="web-tier",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    session.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        AvailabilityZones=[zone],
    )


def deploy_guard(emulator: Emulator) -> tuple[str, dict[str, str]]:
    """What `runawaytrain pass` finds of a deployed guard: a stack whose output names the
    function, and the function with its environment. Returns (topic ARN, the environment)."""
    session = operator(emulator)
    cloudformation = session.client("cloudformation")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            GUARD_FUNCTION_OUTPUT: {"Value": FUNCTION},
            NOTIFY_TOPIC_OUTPUT: {"Value": {"Ref": "Topic"}},
        },
    }
    cloudformation.create_stack(
        StackName="runawaytrain-guard-web-shop", TemplateBody=json.dumps(template)
    )
    [stack] = cloudformation.describe_stacks(StackName="runawaytrain-guard-web-shop")["Stacks"]
    topic = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}[NOTIFY_TOPIC_OUTPUT]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = session.client("iam").create_role(
        RoleName="runawaytrain-guard", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    environment = {
        "ec2limit": "1",
        "snstopic": topic,
        "mode": "enforce",
        "lockout": "users",
        "account_name": "web shop",
        "envaction": "proceed",
        "schedule_minutes": "5",
    }
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    session.client("lambda").create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": environment},
    )
    return topic, environment


def guard_environment(emulator: Emulator) -> dict[str, str]:
    config = operator(emulator).client("lambda").get_function_configuration(FunctionName=FUNCTION)
    return dict(config["Environment"]["Variables"])


def settle(emulator: Emulator) -> None:
    """Wait until no instance is pending (launched and started ones are, for a while)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while (
        any(state == "pending" for state, _ in instances(emulator).values())
        and time.monotonic() < deadline
    ):
        time.sleep(0.3)


def instances(emulator: Emulator) -> dict[str, tuple[str, dict[str, str]]]:
    """Every instance of the account: (state, tags)."""
    found = {}
    for region in REGIONS:
        pages = operator(emulator, region).client("ec2").get_paginator("describe_instances")
        for page in pages.paginate():
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                    found[instance["InstanceId"]] = (instance["State"]["Name"], tags)
    return found


def snapshot(emulator: Emulator) -> dict[str, Any]:
    """What a trip changes and the undo must put back, as plain data."""
    session = operator(emulator)
    iam = session.client("iam")
    users = {}
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        users[name] = {
            "attached": sorted(
                p["PolicyArn"]
                for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
            ),
            "inline": {
                policy: iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
                for policy in iam.list_user_policies(UserName=name)["PolicyNames"]
            },
            "keys": {
                key["AccessKeyId"]: key["Status"]
                for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
            },
            "tags": {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=name)["Tags"]},
        }
    [group] = session.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUP]
    )["AutoScalingGroups"]
    try:
        incident = session.client("ssm").get_parameter(Name=OPEN_INCIDENT)["Parameter"]["Value"]
    except ClientError:
        incident = None
    return {
        "instances": instances(emulator),
        "users": users,
        "auto_scaling": {
            "suspended": sorted(p["ProcessName"] for p in group.get("SuspendedProcesses", [])),
            "capacity": (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]),
            "instances": sorted(i["InstanceId"] for i in group["Instances"]),
        },
        "open_incident": incident,
        "guard_environment": guard_environment(emulator),
    }


def trip(emulator: Emulator, topic: str) -> str:
    """The guard's real trip; returns the mail body it composes."""
    settings = Settings(ec2limit=1, snstopic=topic, lockout=Lockout.USERS, account_name="web shop")
    report = run_guard(
        settings,
        Invocation(),
        ClientFactory(operator(emulator)),
        ACCOUNT,
        FUNCTION,
        pending_wait_s=5,
    )
    assert report.tripped and report.locked_users == ["alice", "bob"], report.summary()
    return compose_body(report)


def printed_commands(body: str) -> list[str]:
    section = body[body.index(UNDO_HEADING) :]
    return [match.group(1) for line in section.splitlines() if (match := COMMAND.match(line))]


def run_in_shell(
    emulator: Emulator, command: str, folder: Path
) -> subprocess.CompletedProcess[str]:
    env = emulator.cli_environment()  # the emulator's endpoint, moto's default (payer) keys
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"  # .venv/bin: `runawaytrain`
    return subprocess.run(
        ["bash", "-c", command],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def test_every_command_the_trip_mail_prints_undoes_the_trip_from_a_bare_shell(
    emulator: Emulator, tmp_path: Path
) -> None:
    make_payer_organization(emulator)
    seed_users(emulator)
    seed_instances(emulator)
    topic, environment = deploy_guard(emulator)
    settle(emulator)
    before = snapshot(emulator)
    assert {state for state, _ in before["instances"].values()} == {"running"}

    body = trip(emulator, topic)
    tripped = snapshot(emulator)
    assert tripped != before  # the trip changed something for the mail to undo
    assert tripped["open_incident"] is not None

    commands = printed_commands(body)
    folder = tmp_path / "anywhere"
    folder.mkdir()
    for command in commands:
        previous = snapshot(emulator)
        done = run_in_shell(emulator, command, folder)
        said = f"$ {command}\n{done.stdout}{done.stderr}"
        assert done.returncode == 0, said
        assert "Traceback" not in done.stderr, said
        argv = shlex.split(command)
        if "--dry-run" in argv:
            settle(emulator)
            assert snapshot(emulator) == previous, said  # a dry run changes nothing
        if argv[1] == "pass" and "--off" not in argv:
            # envaction=pass, and every other variable of the guard kept
            assert guard_environment(emulator) == {**environment, "envaction": "pass"}, said
    assert not list(folder.iterdir())  # no accounts.yaml needed, nothing left behind
    assert any(shlex.split(c)[:2] == ["runawaytrain", "restore"] for c in commands), body

    settle(emulator)
    assert snapshot(emulator) == before, "\n".join(commands)
