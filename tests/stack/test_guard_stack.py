"""The guard stack of each account: function, schedule, topic, role, logs and billing bus."""

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from aws_cdk.aws_s3_assets import Asset

from guard import last_run, open_incident
from guard.service_names import DEFAULT_HALT
from runawaytrain_stack.fleet import new_app
from runawaytrain_stack.guard import ASSET_EXCLUDES, RUNTIME
from runawaytrain_stack.names import ROLE_PATH
from runawaytrain_stack.permissions import (
    CENSUS_ACTIONS,
    FAST_TRIP_QUEUE_ACTIONS,
    GUARD_ACTIONS,
    LAST_RUN_PARAMETER,
    LAUNCH_BLOCK_ACTIONS,
    LOCKOUT_LIST_ACTIONS,
    OPEN_INCIDENT_PARAMETER,
)
from tests.stack.iam_reference import find_action
from tests.stack.template_policies import list_guard_statements


@pytest.fixture(scope="module")
def templates(test_app) -> dict[str, Template]:
    _, stacks = test_app
    return {name: Template.from_stack(stack) for name, stack in stacks.guards.items()}


@pytest.fixture(scope="module")
def prod(templates: dict[str, Template]) -> Template:
    return templates["prod"]


@pytest.fixture(scope="module")
def sandbox(templates: dict[str, Template]) -> Template:
    return templates["sandbox"]


def only_resource(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def guard_statements(template: Template) -> list[dict[str, Any]]:
    return list_guard_statements(template.to_json())


def as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_builds_one_guard_stack_per_account_in_its_home_region(test_app, test_fleet) -> None:
    _, stacks = test_app
    assert sorted(stacks.guards) == sorted(account.name for account in test_fleet.accounts)
    for account in test_fleet.accounts:
        stack = stacks.guards[account.name]
        assert (stack.account, stack.region) == (account.id, account.home_region)
        assert stack.stack_name == f"runawaytrain-guard-{account.name}"


def test_runs_the_newest_python_runtime_in_aws_cdk_lib() -> None:
    pythons = [
        getattr(lambda_.Runtime, name)
        for name in dir(lambda_.Runtime)
        if name.startswith("PYTHON_3_")
    ]
    newest = max(pythons, key=lambda runtime: int(runtime.name.split(".")[1]))
    assert RUNTIME.name == newest.name == "python3.14"


def test_guard_function_is_arm64_with_headroom_and_no_overlap(prod: Template) -> None:
    prod.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "guard.handler.handler",
            "Timeout": 300,
            "ReservedConcurrentExecutions": 1,
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("^GuardLogs")}},
        },
    )


def launch_block_id(template: Template) -> str:
    (logical_id,) = [
        i for i in template.find_resources("AWS::IAM::ManagedPolicy") if i.startswith("LaunchBlock")
    ]
    return logical_id


def test_environment_is_set_from_config(prod: Template, sandbox: Template) -> None:
    prod.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "ec2limit": "40",
                    "snstopic": {"Ref": Match.string_like_regexp("^AlertsTopic")},
                    "envaction": "proceed",
                    "mode": "enforce",
                    "account_name": "prod",
                    "lockout": "users",
                    "break_glass": "breakglass-admin,Deployer",
                    "stack_roles": "runawaytrain-guard-scheduler,runawaytrain-fast-trip-forwarder,"
                    "runawaytrain-watchdog-reader",
                    "unstoppable": "terminate-spot",
                    "halt": ",".join(sorted(DEFAULT_HALT)),  # every reversible kind
                    "max_vcpus": "512",
                    "max_gpus": "16",
                    "max_usd_per_hour": "120.5",
                    "launch_block": "true",  # accounts.yaml default
                    "launch_block_policy": {"Ref": launch_block_id(prod)},
                }
            }
        },
    )
    sandbox.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_equals(
                    {
                        "ec2limit": "0",
                        "snstopic": {"Ref": Match.string_like_regexp("^AlertsTopic")},
                        "envaction": "proceed",
                        "mode": "dry-run",
                        "account_name": "sandbox",
                        "lockout": "users+roles",
                        "break_glass": "",
                        "stack_roles": "runawaytrain-guard-scheduler,runawaytrain-watchdog-reader",
                        # The fleet's operator role: never locked out (review of issue 22, H3).
                        "operator_role": "OrganizationAccountAccessRole",
                        "unstoppable": "terminate-spot",
                        "halt": ",".join(sorted(DEFAULT_HALT)),  # every reversible kind
                        "schedule_minutes": "15",
                        "blind_runs_to_trip": "3",  # blindness.py's default
                        # Off in this account, yet the policy's ARN is there for restore.
                        "launch_block": "false",
                        "launch_block_policy": {"Ref": launch_block_id(sandbox)},
                        # A member account of a fleet with a payer stack (issue 12).
                        "payer_bus": Match.string_like_regexp(
                            r"^arn:aws:events:[a-z0-9-]+:\d{12}:event-bus/runawaytrain-payer$"
                        ),
                        "quarantine": "true",
                        # Its own stacks by exact ARN prefix: what they made is never halted.
                        "own_stacks": Match.string_like_regexp(
                            r"^arn:aws:cloudformation:[a-z0-9-]+:\d{12}:stack/"
                            r"runawaytrain-guard-sandbox/(,|$)"
                        ),
                    }
                )
            }
        },
    )


def test_payer_guard_also_spares_the_billing_forwarder_role(
    templates: dict[str, Template],
) -> None:
    templates["root"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "stack_roles": "runawaytrain-guard-scheduler,"
                        "runawaytrain-billing-forwarder,runawaytrain-fast-trip-forwarder,"
                        "runawaytrain-watchdog-reader"
                    }
                )
            }
        },
    )


def test_stack_roles_are_named_as_the_guard_is_told(prod: Template) -> None:
    prod.has_resource_properties(
        "AWS::IAM::Role", {"RoleName": "runawaytrain-guard-scheduler", "Path": "/runawaytrain/"}
    )


def test_failed_runs_notify_through_the_topic_and_stale_events_expire(prod: Template) -> None:
    prod.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumEventAgeInSeconds": 900,
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Ref": Match.string_like_regexp("^AlertsTopic")}}
            },
        },
    )


@pytest.mark.parametrize(("account", "rate"), [("prod", 5), ("sandbox", 15)])
def test_schedule_rate_comes_from_config(
    templates: dict[str, Template], account: str, rate: int
) -> None:
    function_id, _ = only_resource(templates[account], "AWS::Lambda::Function")
    templates[account].has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": f"rate({rate} minutes)",
            "State": "ENABLED",
            "Target": {
                "Arn": {"Fn::GetAtt": [function_id, "Arn"]},
                "Input": '{"trigger":"schedule"}',
                "RetryPolicy": {"MaximumEventAgeInSeconds": rate * 60, "MaximumRetryAttempts": 2},
            },
        },
    )


def test_scheduler_role_may_only_invoke_the_guard(prod: Template) -> None:
    function_id, _ = only_resource(prod, "AWS::Lambda::Function")
    prod.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"Service": "scheduler.amazonaws.com"},
                            "Condition": {"StringEquals": {"aws:SourceAccount": "200000000002"}},
                        }
                    )
                ]
            },
            "Policies": [
                {
                    "PolicyName": "InvokeGuard",
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Action": "lambda:InvokeFunction",
                                "Effect": "Allow",
                                "Resource": {"Fn::GetAtt": [function_id, "Arn"]},
                            }
                        ],
                        "Version": "2012-10-17",
                    },
                }
            ],
        },
    )


def test_topic_is_encrypted_with_a_rotating_customer_key_and_ssl_only(prod: Template) -> None:
    key_id, _ = only_resource(prod, "AWS::KMS::Key")
    prod.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    prod.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    prod.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_subscribes_each_notify_address_once_by_email(prod: Template, sandbox: Template) -> None:
    prod.resource_count_is("AWS::SNS::Subscription", 3)
    for address in ("ops@example.com", "oncall@example.com", "cto@example.com"):
        prod.has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": address}
        )
    sandbox.resource_count_is("AWS::SNS::Subscription", 1)
    sandbox.has_resource_properties("AWS::SNS::Subscription", {"Endpoint": "team@example.com"})


def test_log_group_keeps_logs_for_a_year(prod: Template) -> None:
    prod.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 365})


def test_role_allows_exactly_the_guard_actions_and_no_wildcard_actions(
    prod: Template, sandbox: Template
) -> None:
    """The code's actions its settings use, plus the SQS actions Lambda's poller makes with the
    role (fast trip). prod (lockout: users) may attach AWSDenyAll to users only; sandbox
    (launch_block: false) may attach the launch-block policy nowhere."""
    allowed = [s for s in guard_statements(prod) if s["Effect"] == "Allow"]
    actions = [action for s in allowed for action in as_list(s["Action"])]
    expected = list(GUARD_ACTIONS + FAST_TRIP_QUEUE_ACTIONS)
    expected.remove("iam:AttachRolePolicy")  # of AWSDenyAll: roles are not locked out
    assert sorted(actions) == sorted(expected)
    assert not [action for action in actions if "*" in action]
    # Terminate only Spot capacity (AWS refuses to stop it): never an on-demand instance.
    terminating = [s for s in allowed if "ec2:TerminateInstances" in as_list(s["Action"])]
    assert [s["Condition"] for s in terminating] == [
        {"StringEquals": {"ec2:InstanceMarketType": "spot"}}
    ]
    without_fast_trip = [s for s in guard_statements(sandbox) if s["Effect"] == "Allow"]
    actions = [action for s in without_fast_trip for action in as_list(s["Action"])]
    expected = list(GUARD_ACTIONS)
    for action in LAUNCH_BLOCK_ACTIONS:
        expected.remove(action)
    assert sorted(actions) == sorted(expected)


def test_roles_use_only_their_own_stacks_managed_policies(templates: dict[str, Template]) -> None:
    """No AWS managed policy (AWSLambdaBasicExecutionRole grants logs on every log group): a
    role holds only its own stack's customer managed policies, under runawaytrain's path."""
    for template in templates.values():
        managed = template.find_resources("AWS::IAM::ManagedPolicy")
        for role in template.find_resources("AWS::IAM::Role").values():
            for arn in role["Properties"].get("ManagedPolicyArns", []):
                assert managed[arn["Ref"]]["Properties"]["Path"] == ROLE_PATH
        for policy in managed.values():
            assert policy["Properties"]["Path"] == ROLE_PATH


def test_the_guard_function_waits_for_every_policy_of_its_role(prod: Template) -> None:
    """Each policy names the role (Roles), so CloudFormation attaches it after creating the role;
    the function depends on each, so it never runs with part of its permissions."""
    function_id, function = only_resource(prod, "AWS::Lambda::Function")
    attached = [
        logical_id
        for logical_id, policy in prod.find_resources("AWS::IAM::ManagedPolicy").items()
        if policy["Properties"].get("Roles")
    ]
    assert len(attached) > 1
    assert set(attached) <= set(function.get("DependsOn", [])), function_id


def test_role_uses_star_only_for_actions_without_resource_permissions(prod: Template) -> None:
    """Every action the role allows on "*" is one the Service Authorization Reference lists with
    no resource type (or only optional ones a census cannot know in advance): the census reads
    and, e.g., redshift:ModifyScheduledAction. The census and lockout listings are all there."""
    star = [s for s in guard_statements(prod) if s["Resource"] == "*"]
    allowed = {action for s in star for action in as_list(s["Action"])}
    assert set(CENSUS_ACTIONS + LOCKOUT_LIST_ACTIONS) <= allowed
    scoped_only = [
        action
        for action in sorted(allowed - set(CENSUS_ACTIONS + LOCKOUT_LIST_ACTIONS))
        if (found := find_action(action)) is None or found.arn_formats
    ]
    assert not scoped_only, f"{scoped_only} take resource ARNs: scope them"


def statement(template: Template, sid: str) -> dict[str, Any]:
    (found,) = [s for s in guard_statements(template) if s.get("Sid") == sid]
    return found


def test_attaching_policies_is_limited_to_aws_deny_all_where_lockout_needs_it(
    prod: Template, sandbox: Template
) -> None:
    deny_all = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AWSDenyAll"]]
    }
    attach = statement(prod, "AttachOnlyDenyAll")  # lockout: users
    assert as_list(attach["Action"]) == ["iam:AttachUserPolicy"]
    assert attach["Condition"] == {"ArnEquals": {"iam:PolicyARN": deny_all}}
    attach = statement(sandbox, "AttachOnlyDenyAll")  # lockout: users+roles
    assert sorted(attach["Action"]) == ["iam:AttachRolePolicy", "iam:AttachUserPolicy"]
    assert attach["Condition"] == {"ArnEquals": {"iam:PolicyARN": deny_all}}


def test_no_lockout_grants_no_key_or_deny_all_changes(templates: dict[str, Template]) -> None:
    """root has lockout: none, the default."""
    sids = {s.get("Sid") for s in guard_statements(templates["root"])}
    assert "AttachOnlyDenyAll" not in sids
    assert "DeactivateKeys" not in sids
    assert "AttachOnlyLaunchBlock" in sids  # launch_block: true, the default


def test_the_role_writes_no_inline_policy_and_no_policy_version(
    templates: dict[str, Template],
) -> None:
    """Issue 22 item 11: an inline policy's content cannot be bounded."""
    unbounded = {"iam:PutUserPolicy", "iam:PutRolePolicy", "iam:CreatePolicyVersion"}
    unbounded |= {"iam:DeleteUserPolicy", "iam:DeleteRolePolicy", "iam:SetDefaultPolicyVersion"}
    for template in templates.values():
        allowed = [s for s in guard_statements(template) if s["Effect"] == "Allow"]
        actions = {action for s in allowed for action in as_list(s["Action"])}
        assert not actions & unbounded
        assert not [a for a in actions if a.startswith("iam:") and "*" in a]


@pytest.mark.parametrize("sid", ["TagInstances", "TagScalingGroups", "TagPrincipals"])
def test_tagging_is_limited_to_runawaytrain_keys(prod: Template, sid: str) -> None:
    assert statement(prod, sid)["Condition"] == {
        "ForAllValues:StringLike": {"aws:TagKeys": "runawaytrain:*"},
        # ForAllValues alone passes a request without keys (DeleteTags then removes every tag).
        "Null": {"aws:TagKeys": "false"},
    }


def test_publishing_and_key_use_are_limited_to_own_topic_and_key(prod: Template) -> None:
    topic_id, _ = only_resource(prod, "AWS::SNS::Topic")
    key_id, _ = only_resource(prod, "AWS::KMS::Key")
    log_group_id, _ = only_resource(prod, "AWS::Logs::LogGroup")
    assert statement(prod, "PublishToOwnTopic")["Resource"] == {"Ref": topic_id}
    assert statement(prod, "UseTopicKey")["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert statement(prod, "WriteOwnLogs")["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


def test_open_incident_is_one_parameter_in_the_home_region(prod: Template) -> None:
    """The guard keeps its open incident in exactly the parameter its code uses."""
    assert OPEN_INCIDENT_PARAMETER == open_incident.PARAMETER
    tracked = statement(prod, "TrackOpenIncident")
    assert sorted(as_list(tracked["Action"])) == [
        "ssm:DeleteParameter",
        "ssm:GetParameter",
        "ssm:PutParameter",
    ]
    assert tracked["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ssm:eu-west-1:200000000002:parameter/runawaytrain/guard/open-incident",
            ],
        ]
    }


def test_last_run_record_is_one_parameter_in_the_home_region(prod: Template) -> None:
    """`status` reads the guard's last run from exactly the parameter its code writes."""
    assert LAST_RUN_PARAMETER == last_run.PARAMETER
    recorded = statement(prod, "RecordLastRun")
    assert sorted(as_list(recorded["Action"])) == ["ssm:GetParameter", "ssm:PutParameter"]
    assert recorded["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ssm:eu-west-1:200000000002:parameter/runawaytrain/guard/last-run",
            ],
        ]
    }


def own(resource: str) -> dict[str, Any]:
    return {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":ec2:*:200000000002:{resource}"]]
    }


def test_stops_and_tags_only_instances_spot_requests_and_fleets_of_its_own_account(
    prod: Template,
) -> None:
    assert statement(prod, "StopAndRestartInstances")["Resource"] == own("instance/*")
    assert statement(prod, "TagInstances")["Resource"] == [
        own("instance/*"),
        own("spot-instances-request/*"),
        own("spot-fleet-request/*"),
        own("fleet/*"),
    ]


def test_guard_may_never_modify_its_own_roles(prod: Template) -> None:
    deny = statement(prod, "NeverModifyOwnRoles")
    assert deny["Effect"] == "Deny"
    assert {"iam:AttachRolePolicy", "iam:PutRolePolicy"} <= set(deny["Action"])
    assert deny["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":iam::200000000002:role/runawaytrain/*"],
        ]
    }


def billing_bus_id(template: Template) -> str:
    (bus_id,) = template.find_resources(
        "AWS::Events::EventBus", {"Properties": {"Name": "runawaytrain-billing-trips"}}
    )
    return bus_id


def test_budgeted_account_receives_billing_trips_from_the_payer_only(prod: Template) -> None:
    bus_id = billing_bus_id(prod)
    function_id, _ = only_resource(prod, "AWS::Lambda::Function")
    prod.has_resource_properties(
        "AWS::Events::EventBusPolicy",
        {
            "EventBusName": {"Ref": bus_id},
            "Statement": {
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Principal": {
                    "AWS": {
                        "Fn::Join": [
                            "",
                            ["arn:", {"Ref": "AWS::Partition"}, ":iam::100000000001:root"],
                        ]
                    }
                },
                "Resource": {"Fn::GetAtt": [bus_id, "Arn"]},
            },
        },
    )
    prod.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventBusName": {"Ref": bus_id},
            "EventPattern": {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "account": ["100000000001"],
                "detail": {
                    "alarmName": ["runawaytrain-billing-prod"],
                    "state": {"value": ["ALARM"]},
                },
            },
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function_id, "Arn"]}})],
        },
    )
    prod.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "events.amazonaws.com", "Action": "lambda:InvokeFunction"},
    )


def test_unbudgeted_account_has_no_billing_bus(sandbox: Template) -> None:
    """sandbox has no budget, and fast_trip: false: no bus and no rule at all."""
    sandbox.resource_count_is("AWS::Events::EventBus", 0)
    sandbox.resource_count_is("AWS::Events::Rule", 0)


def test_lambda_asset_is_the_guard_package(test_app, prod: Template) -> None:
    app, _ = test_app
    _, function = only_resource(prod, "AWS::Lambda::Function")
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = Path(app.outdir) / f"asset.{asset_hash}"
    # One asset root for the guard and the payer's Lambdas (which log through guard.logs).
    assert sorted(path.name for path in asset.iterdir()) == [
        "guard",
        "quarantine",
        "settings",
        "spend",
        "watchdog",
    ]
    assert (asset / "guard" / "handler.py").is_file()


def test_asset_excludes_leave_bytecode_out(tmp_path: Path) -> None:
    source = tmp_path / "lambda" / "guard"
    (source / "__pycache__").mkdir(parents=True)
    (source / "handler.py").write_text("")
    (source / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"")
    (source / "stray.pyc").write_bytes(b"")
    app = new_app(outdir=str(tmp_path / "out"))
    stack = Stack(app, "AssetCheck")
    asset = Asset(stack, "Code", path=str(source.parent), exclude=ASSET_EXCLUDES)
    staged = Path(app.synth().directory) / asset.asset_path
    assert sorted(str(p.relative_to(staged)) for p in staged.rglob("*")) == [
        "guard",
        "guard/handler.py",
    ]
