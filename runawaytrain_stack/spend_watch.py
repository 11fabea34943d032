"""The payer's spend watcher: an hourly Lambda reading the CUR, tripping accounts that burn fast.

It puts a "Spend Rate Exceeded" event on the payer's default bus (lambda/spend/watch.py); one rule
per spend-limited account forwards that account's events to its guard's billing bus, the same
cross-account path as a billing alarm (billing_bus.py matches them there).
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.billing_bus import build_spend_pattern
from runawaytrain_stack.fleet_model import CurConfig, Fleet
from runawaytrain_stack.guard import (
    ASSET_DIR,
    ASSET_EXCLUDES,
    LOG_RETENTION,
    RUNTIME,
    build_log_statement,
)
from runawaytrain_stack.names import BILLING_BUS_NAME, PREFIX, ROLE_PATH

HANDLER = "spend.handler.handler"
# CUR is delivered "at least once a day" (Data Exports user guide); hourly catches each delivery
# within the hour without reading the same files dozens of times.
RATE = Duration.hours(1)
# bench/cur.py: ~190,000 line items/s on one core, flat ~12 MB. Ten minutes reads ~100 M items.
TIMEOUT = Duration.minutes(10)
MEMORY_MB = 512
STATE_PARAMETER = f"/{PREFIX}/spend/last-delivery"


class SpendWatcher(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fleet: Fleet,
        cur: CurConfig,
        alerts: AlertTopic,
        forwarder: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        self.state = ssm.StringParameter(
            self,
            "LastDelivery",
            parameter_name=STATE_PARAMETER,
            string_value="none",
            description="The CUR delivery the spend watcher last tripped on (once per delivery)",
        )
        report_root = "/".join(p for p in (cur.prefix, cur.report_name) if p)
        bucket_arn = f"arn:{stack.partition}:s3:::{cur.bucket}"
        objects_key = f"{cur.bucket}/{report_root}/*"
        objects_arn = f"arn:{stack.partition}:s3:::{objects_key}"
        default_bus = stack.format_arn(
            service="events", resource="event-bus", resource_name="default"
        )
        statements = [
            iam.PolicyStatement(
                sid="ListCur",
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{report_root}/*"]}},
            ),
            iam.PolicyStatement(sid="ReadCur", actions=["s3:GetObject"], resources=[objects_arn]),
            iam.PolicyStatement(
                sid="SendTrips", actions=["events:PutEvents"], resources=[default_bus]
            ),
            *alerts.publisher_statements("PublishToPayerTopic"),
            iam.PolicyStatement(
                sid="RememberDelivery",
                actions=["ssm:GetParameter", "ssm:PutParameter"],
                resources=[self.state.parameter_arn],
            ),
            build_log_statement(self.log_group),
        ]
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            path=ROLE_PATH,
            description="runawaytrain spend watcher: reads the CUR, sends spend-rate trips",
            inline_policies={"SpendWatcher": iam.PolicyDocument(statements=statements)},
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{objects_key}]",
                reason="CUR delivery keys (billing period folders, assembly or execution ids, "
                "file numbers) are created by AWS at each delivery and known only from the "
                "manifest at run time; reading is limited to this report's prefix.",
            )
        )
        limits = {a.id: a.max_spend_per_day_usd for a in fleet.spend_limited_accounts}
        self.function = lambda_.Function(
            self,
            "Function",
            description="runawaytrain spend watcher: trailing-24 h spend per account from the CUR",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(ASSET_DIR), exclude=ASSET_EXCLUDES),
            role=self.role.without_policy_updates(),
            timeout=TIMEOUT,
            memory_size=MEMORY_MB,
            reserved_concurrent_executions=1,
            environment={
                "cur_bucket": cur.bucket,
                "cur_prefix": cur.prefix,
                "cur_report": cur.report_name,
                "limits": json.dumps(limits, sort_keys=True),
                "snstopic": alerts.topic.topic_arn,
                "state_parameter": STATE_PARAMETER,
            },
            log_group=self.log_group,
            # A bad delivery is reported by the function and returns normally; a crash (a
            # setting or an AWS error) goes to the topic once, not retried into a loop.
            retry_attempts=0,
            on_failure=destinations.SnsDestination(alerts.topic),
        )
        self.schedule = events.Rule(
            self,
            "Hourly",
            description="Runs the runawaytrain spend watcher every hour",
            schedule=events.Schedule.rate(RATE),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
        self.forward_rules = []
        for account in fleet.spend_limited_accounts:
            bus_arn = stack.format_arn(
                service="events",
                region=account.home_region,
                account=account.id,
                resource="event-bus",
                resource_name=BILLING_BUS_NAME,
            )
            self.forward_rules.append(
                events.Rule(
                    self,
                    f"Forward-{account.name}",
                    description=f"Forwards spend-rate trips for {account.name} to its guard",
                    event_pattern=build_spend_pattern(account.id),
                    targets=[
                        targets.EventBus(
                            events.EventBus.from_event_bus_arn(
                                self, f"Bus-{account.name}", bus_arn
                            ),
                            role=forwarder,
                        )
                    ],
                )
            )
