"""In the payer: the watchdog that notices a guard which stopped running or reports errors.

Every guard puts a heartbeat on the payer's bus at the end of every run (lambda/guard/heartbeat.py);
a rule here hands them to the watchdog, which keeps the last one per account in SSM. A scheduled
rule runs the check every N minutes (N: the fleet's smallest schedule_minutes): an account silent
for 3 of its intervals, or whose last heartbeat is degraded, has errors or says the guard is
switched off, gets one mail to the payer's list, with what the watchdog read through the account's
reader role (watchdog_reader.py); one more when it is healthy again (lambda/watchdog).

The watchdog is watched by a CloudWatch alarm (`MissedChecks`): every completed check logs one
`runawaytrain` `WatchdogChecks` datapoint (lambda/watchdog/metrics.py); a period of the check's
interval without one counts as breaching ("treat missing data as breaching", CloudWatch User Guide,
"Configuring how CloudWatch alarms treat missing data"), and 3 such periods in a row (the guards'
own 3-interval rule) mail the payer's list, as does the return to OK. Not AWS/Lambda Invocations:
every heartbeat invokes the same function, so that metric has datapoints while no check runs.

A scheduled EventBridge rule rather than EventBridge Scheduler (which the guards use, schedule.py):
the watchdog is one function with two triggers, both EventBridge rules with the same invoke
permission, and a missed check is caught by the next one.
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.file_layer import add_file_layer
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.guard import (
    ASSET_DIR,
    ASSET_EXCLUDES,
    LOG_RETENTION,
    RUNTIME,
    build_log_statement,
)
from runawaytrain_stack.names import (
    GUARD_EVENT_SOURCE,
    HEARTBEAT_PATH,
    ROLE_PATH,
    SCHEDULE_NAME,
    WATCHDOG_READER_ROLE_NAME,
    WATCHDOG_ROLE_NAME,
    WATCHDOG_STATE_PATH,
    name_watchdog_reader_role_arn,
)
from runawaytrain_stack.payer_wiring import WATCHED_IN_ENVIRONMENT_BYTES, build_watched_accounts
from runawaytrain_stack.watchdog_reader import as_nag_names
from watchdog.health import OVERDUE_INTERVALS
from watchdog.metrics import CHECKS_METRIC, DIMENSION, NAMESPACE

HANDLER = "watchdog.handler.handler"
HEARTBEAT = "Guard Heartbeat"  # must equal lambda/guard/payer_events.py HEARTBEAT
# A check reads two parameters per account and looks inside the few newly unhealthy ones (about
# six reads each, seconds), and reads every account's mail path (about ten reads each, ten
# accounts at a time); two minutes leaves room for a slow Region's STS and retries.
TIMEOUT = Duration.minutes(2)


class Watchdog(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fleet: Fleet,
        bus: events.IEventBus,
        alerts: AlertTopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        records = [
            stack.format_arn(service="ssm", resource="parameter", resource_name=f"{path[1:]}*")
            for path in (HEARTBEAT_PATH, WATCHDOG_STATE_PATH)
        ]
        readers = [
            name_watchdog_reader_role_arn(a).replace("arn:aws:", f"arn:{stack.partition}:", 1)
            for a in fleet.accounts
        ]
        if fleet.organization is not None:
            # One ARN whatever the number of members: the reader role trusts only this role
            # (watchdog_reader.py), so no other account's role of that name can be assumed.
            readers = [f"arn:{stack.partition}:iam::*:role{ROLE_PATH}{WATCHDOG_READER_ROLE_NAME}"]
        statements = [
            iam.PolicyStatement(
                sid="KeepRecords",
                actions=["ssm:GetParameters", "ssm:PutParameter"],
                resources=records,
            ),
            iam.PolicyStatement(sid="LookInside", actions=["sts:AssumeRole"], resources=readers),
            *alerts.publisher_statements("MailPayer"),
            # With an organization: the target OUs' accounts, for the join check
            # (lambda/watchdog/joined.py). Both take an OU or root ARN, which names the
            # organisation's random id (Service Authorization Reference, AWS Organizations).
            *(
                [
                    iam.PolicyStatement(
                        sid="ListTargetOus",
                        actions=[
                            "organizations:ListAccountsForParent",
                            "organizations:ListChildren",
                        ],
                        resources=[
                            f"arn:{stack.partition}:organizations::{fleet.payer.id}:ou/"
                            f"{fleet.organization.id}/ou-*"
                        ],
                    ),
                    # StackSets delegated administrators (lambda/watchdog/delegates.py): the
                    # action has no resource type (Service Authorization Reference, AWS
                    # Organizations), so "*".
                    iam.PolicyStatement(
                        sid="ListStackSetsDelegates",
                        actions=["organizations:ListDelegatedAdministrators"],
                        resources=["*"],
                    ),
                ]
                if fleet.organization is not None
                else []
            ),
            build_log_statement(self.log_group),
        ]
        self.role = iam.Role(
            self,
            "Role",
            role_name=WATCHDOG_ROLE_NAME,  # every reader role trusts exactly this name
            path=ROLE_PATH,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="runawaytrain watchdog: records heartbeats, mails when a guard is quiet",
            inline_policies={"Watchdog": iam.PolicyDocument(statements=statements)},
        )
        if fleet.organization is not None:
            Validations.of(self.role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{as_nag_names(readers[0], stack)}]",
                    reason="The reader role of every account of the organisation, by its fixed "
                    "name and path; each trusts only the watchdog's role, so the payer's "
                    "template does not grow with the number of members.",
                )
            )
        Validations.of(self.role).acknowledge(
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{as_nag_names(arn, stack)}]",
                    reason="One parameter per account of the fleet, named by its account id, "
                    "written at every heartbeat or alert change; the path holds nothing else.",
                )
                for arn in records
            )
        )
        if fleet.organization is not None:
            Validations.of(self.role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="organizations:ListDelegatedAdministrators has no resource type "
                    "(Service Authorization Reference, AWS Organizations): the watchdog lists "
                    "StackSets delegated administrators, read-only.",
                )
            )
            target_ous = (
                f"arn:{stack.partition}:organizations::{fleet.payer.id}:ou/"
                f"{fleet.organization.id}/ou-*"
            )
            Validations.of(self.role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{as_nag_names(target_ous, stack)}]",
                    reason="Listing the accounts and child OUs of the target OUs and of every "
                    "OU below them (the join check), whose ids the template cannot know; "
                    "only this organisation's OUs, read-only.",
                )
            )
        interval = min(account.schedule_minutes for account in fleet.accounts)
        watched = json.dumps(build_watched_accounts(fleet), sort_keys=True)
        layers: list[lambda_.ILayerVersion] = []
        listing: dict[str, str] = {"accounts": watched}
        if fleet.organization is not None or len(watched) > WATCHED_IN_ENVIRONMENT_BYTES:
            # The list grows with the fleet: past a few accounts a layer file, not the
            # environment (4 KB for all variables, Lambda quotas) nor the template. Layers are
            # extracted to /opt.
            layers = [
                add_file_layer(
                    self,
                    "Accounts",
                    files={"watchdog/accounts.json": watched},
                    description="runawaytrain watchdog: the accounts it watches (accounts.yaml)",
                )
            ]
            listing = {"accounts_file": "/opt/watchdog/accounts.json"}
        self.function = lambda_.Function(
            self,
            "Function",
            description="runawaytrain watchdog: every guard's heartbeat, checked every "
            f"{interval} min",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(ASSET_DIR), exclude=ASSET_EXCLUDES),
            role=self.role.without_policy_updates(),
            timeout=TIMEOUT,
            memory_size=128,
            # One at a time: two checks at once would both mail the same change.
            reserved_concurrent_executions=1,
            layers=layers,
            environment={
                **listing,
                "snstopic": alerts.topic.topic_arn,
                "heartbeat_path": HEARTBEAT_PATH,
                "state_path": WATCHDOG_STATE_PATH,
                "reader_role": f"{ROLE_PATH}{WATCHDOG_READER_ROLE_NAME}",
                "schedule_name": SCHEDULE_NAME,
                **(
                    {
                        "target_ous": ",".join(fleet.organization.target_ous),
                        "join_minutes": str(fleet.organization.join_minutes),
                    }
                    if fleet.organization is not None
                    else {}
                ),
            },
            log_group=self.log_group,
            retry_attempts=2,
            on_failure=destinations.SnsDestination(alerts.topic),
        )
        self.heartbeats = events.Rule(
            self,
            "Heartbeats",
            description="Every guard's heartbeat, to the watchdog",
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=[GUARD_EVENT_SOURCE],
                detail_type=[HEARTBEAT],
                # With an organization the bus admits only its guards (payer_wiring.py).
                account=None if fleet.organization else [a.id for a in fleet.accounts],
            ),
            targets=[targets.LambdaFunction(self.function)],
        )
        self.schedule = events.Rule(
            self,
            "Check",
            description=f"Runs the runawaytrain watchdog's check every {interval} minute(s)",
            schedule=events.Schedule.rate(Duration.minutes(interval)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
        self.missed_checks = cloudwatch.Alarm(
            self,
            "MissedChecks",
            alarm_description=f"The runawaytrain watchdog has not completed a check in "
            f"{OVERDUE_INTERVALS} x {interval} minutes: nothing notices a guard that stops. "
            "See its log group and the Check rule.",
            metric=cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name=CHECKS_METRIC,
                dimensions_map={DIMENSION: self.function.function_name},
                statistic="Sum",
                period=Duration.minutes(interval),
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=OVERDUE_INTERVALS,
            datapoints_to_alarm=OVERDUE_INTERVALS,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.missed_checks.add_alarm_action(cloudwatch_actions.SnsAction(alerts.topic))
        self.missed_checks.add_ok_action(cloudwatch_actions.SnsAction(alerts.topic))
