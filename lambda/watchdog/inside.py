"""Look inside a member account through its reader role: read-only facts about its guard.

Runs only for an account about to be mailed about, never on every check. Each read that fails is
recorded and the others go on: a partial picture still tells the payer more than none.

IAM, in the member (the reader role, runawaytrain_stack/watchdog_reader.py): cloudformation:
DescribeStacks and DescribeStackResources on the guard stack, scheduler:GetSchedule on the guard's
schedule, lambda:GetFunctionConfiguration on the guard function, cloudwatch:GetMetricStatistics,
events:DescribeRule on the guard stack's rules. In the payer: sts:AssumeRole on the reader role.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.findings import MISSING, Inside
from watchdog.health import WatchedAccount

# The guard function's logical id starts with its construct path, Guard/Function
# (runawaytrain_stack/guard_stack.py, guard.py); CDK appends a hash of the path.
GUARD_FUNCTION_LOGICAL_PREFIX = "GuardFunction"
# The Errors window: at least a quarter of an hour, at least the account's 3 intervals.
MIN_WINDOW_MINUTES = 15

Assume = Callable[[str, str], Any]  # (role ARN, region) -> a boto3 Session with its credentials


def look_inside(
    assume: Assume,
    account: WatchedAccount,
    *,
    reader_role_arn: str,
    schedule_name: str,
    now: datetime,
) -> Inside:
    """The guard stack's status, its schedule's state, the guard function's configuration and
    recent errors, and any disabled rule of the guard stack."""
    region = account.home_region
    try:
        session = assume(reader_role_arn, region)
    except (ClientError, BotoCoreError) as error:
        return Inside(refused=f"{reader_role_arn}: {_describe(error)}")
    inside = Inside()
    resources: list[Any] = []

    def read(what: str, step: Callable[[], Any]) -> Any:
        # Whatever one read runs into (an unparseable answer included), the others go on and
        # the mail still goes out: the failure is one line of it.
        try:
            return step()
        except Exception as error:
            inside.unreadable.append(f"{what} ({_describe(error)})")
            return None

    cloudformation = session.client("cloudformation", region_name=region)
    resources = read("stack", lambda: _read_stack(cloudformation, account, inside)) or []
    scheduler = session.client("scheduler", region_name=region)
    read("schedule", lambda: _read_schedule(scheduler, schedule_name, inside))
    if inside.function_name is None and resources:
        inside.function_name = next(
            (
                r["PhysicalResourceId"]
                for r in resources
                if r.get("ResourceType") == "AWS::Lambda::Function"
                and r.get("LogicalResourceId", "").startswith(GUARD_FUNCTION_LOGICAL_PREFIX)
                and r.get("PhysicalResourceId")
            ),
            None,
        )
    if inside.function_name is not None:
        lambda_ = session.client("lambda", region_name=region)
        read("function", lambda: _read_function(lambda_, inside))
        window = max(MIN_WINDOW_MINUTES, int(account.allowance.total_seconds() // 60))
        cloudwatch = session.client("cloudwatch", region_name=region)
        read("Errors metric", lambda: _read_errors(cloudwatch, inside, now, window))
    # A resource not created (CREATE_FAILED) has no PhysicalResourceId (CloudFormation API
    # Reference, StackResource: not required): nothing to read.
    rules = [
        r["PhysicalResourceId"]
        for r in resources
        if r.get("ResourceType") == "AWS::Events::Rule" and r.get("PhysicalResourceId")
    ]
    events = session.client("events", region_name=region)
    read("rules", lambda: _read_rules(events, rules, inside))
    return inside


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', '')}: {details.get('Message', '')}"
    return f"{type(error).__name__}: {error}"


def _read_stack(cloudformation: Any, account: WatchedAccount, inside: Inside) -> list[Any]:
    try:
        stacks = cloudformation.describe_stacks(StackName=account.stack)["Stacks"]
    except ClientError as error:
        # A stack that does not exist: ValidationError "Stack with id <name> does not exist"
        # (boto/boto3#2807 quotes AWS's response; the API Reference does not list it).
        if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
            inside.stack_status = MISSING
        else:
            inside.unreadable.append(f"stack {account.stack} ({_describe(error)})")
        return []
    except BotoCoreError as error:
        inside.unreadable.append(f"stack {account.stack} ({_describe(error)})")
        return []
    inside.stack_status = stacks[0]["StackStatus"] if stacks else MISSING
    if not stacks:
        return []
    try:
        # At most 100 resources (CloudFormation API Reference, DescribeStackResources); a guard
        # stack has about 30.
        found = cloudformation.describe_stack_resources(StackName=account.stack)
    except (ClientError, BotoCoreError) as error:
        inside.unreadable.append(f"resources of {account.stack} ({_describe(error)})")
        return []
    return list(found["StackResources"])


def _read_schedule(scheduler: Any, name: str, inside: Inside) -> None:
    try:
        schedule = scheduler.get_schedule(Name=name)
    except ClientError as error:
        # EventBridge Scheduler API Reference, GetSchedule: ResourceNotFoundException.
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            inside.schedule_state = MISSING
        else:
            inside.unreadable.append(f"schedule {name} ({_describe(error)})")
        return
    except BotoCoreError as error:
        inside.unreadable.append(f"schedule {name} ({_describe(error)})")
        return
    inside.schedule_state = str(schedule.get("State", ""))
    target = str(schedule.get("Target", {}).get("Arn", ""))
    if target.count(":") >= 6:  # arn:aws:lambda:region:account:function:name
        inside.function_name = target.split(":")[6]


def _read_function(lambda_: Any, inside: Inside) -> None:
    try:
        config = lambda_.get_function_configuration(FunctionName=inside.function_name)
    except (ClientError, BotoCoreError) as error:
        inside.unreadable.append(f"function {inside.function_name} ({_describe(error)})")
        return
    inside.environment = dict(config.get("Environment", {}).get("Variables", {}))
    # Lambda Developer Guide, "Lambda function states": State Pending/Active/Inactive/Failed,
    # LastUpdateStatus InProgress/Successful/Failed, each with a reason when not fine.
    state = config.get("State", "Active")
    if state not in ("Active", "Inactive"):  # Inactive: idle, woken by the next invoke
        inside.function_state = f"state {state} ({config.get('StateReason', '')})"
    elif config.get("LastUpdateStatus") == "Failed":
        reason = config.get("LastUpdateStatusReason", "")
        inside.function_state = f"last update failed ({reason})"


def _read_errors(cloudwatch: Any, inside: Inside, now: datetime, window: int) -> None:
    inside.window_minutes = window
    try:
        datapoints = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Errors",  # invocations that ended in an error (Lambda "Function metrics")
            Dimensions=[{"Name": "FunctionName", "Value": inside.function_name}],
            StartTime=now - timedelta(minutes=window),
            EndTime=now,
            Period=window * 60,
            Statistics=["Sum"],
        )["Datapoints"]
    except (ClientError, BotoCoreError) as error:
        inside.unreadable.append(f"Errors metric of {inside.function_name} ({_describe(error)})")
        return
    inside.errors = sum(float(point.get("Sum", 0)) for point in datapoints)


def _read_rules(events: Any, physical_ids: list[str], inside: Inside) -> None:
    for physical_id in physical_ids:
        # A rule on a custom bus has the physical id "<bus>|<rule>" (CloudFormation User Guide,
        # AWS::Events::Rule, "Ref"); one on the default bus is the rule's name.
        bus, _, name = physical_id.rpartition("|")
        try:
            rule = events.describe_rule(Name=name, **({"EventBusName": bus} if bus else {}))
        except (ClientError, BotoCoreError) as error:
            inside.unreadable.append(f"rule {name} ({_describe(error)})")
            continue
        if rule.get("State") == "DISABLED":
            inside.disabled_rules.append(name)
