"""The guard Lambda: code from lambda/, its least-privilege role, its logs and failure alerts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.fleet_model import Account
from runawaytrain_stack.names import ROLE_PATH
from runawaytrain_stack.permissions import (
    build_guard_policy,
    list_policy_acknowledgments,
    list_settings_acknowledgments,
    split_guard_policy,
)

# Resolved from this file, never the working directory, so synth works from anywhere.
ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda"
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc"]
HANDLER = "guard.handler.handler"
# The newest Python runtime in aws-cdk-lib that Lambda supports (python3.14, released 2025-11).
RUNTIME = lambda_.Runtime.PYTHON_3_14
# Halting 1000 instances takes about 1 s in the emulator, but botocore's standard retry mode
# makes up to 10 attempts with backoff, so one call can take tens of seconds in a throttled
# account, and a run makes several per region. Five minutes leaves that headroom and still ends
# a stuck run long before Lambda's 15-minute cap.
TIMEOUT = Duration.minutes(5)
# boto3 clients for every enabled region are created in parallel threads; 128 MB is tight.
MEMORY_MB = 256
# A queued event waits while the single allowed run is busy (reserved concurrency 1). Fifteen
# minutes outlasts a worst-case run ahead of it plus Lambda's retry backoff, so a billing trip
# survives; older scheduled ticks are superseded, and dropping one alerts the notify list.
MAX_EVENT_AGE = Duration.minutes(15)
RETRY_ATTEMPTS = 2
LOG_RETENTION = logs.RetentionDays.ONE_YEAR  # incident forensics span billing cycles


def build_log_statement(log_group: logs.ILogGroup) -> iam.PolicyStatement:
    """A payer Lambda's own log group: what Lambda writes with the function's role."""
    return iam.PolicyStatement(
        sid="WriteOwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[log_group.log_group_arn],
    )


def build_guard_environment(
    account: Account,
    topic_arn: str,
    stack_roles: Sequence[str],
    launch_block_arn: str,
    payer_bus: str = "",
    *,
    own_stacks: Sequence[str] = (),
    settings_bucket: str = "",
    payer_topic_arn: str = "",
    operator_role: str = "",
) -> dict[str, str]:
    """The guard's settings (lambda/guard/settings.py reads them; lower-case names are fixed).

    `stack_roles`: the other runawaytrain roles in the account, which lockout must never touch.
    `launch_block_arn`: the stack's launch-block policy, always given (restore detaches it even
    with `launch_block` since turned off); `launch_block` says whether a trip attaches it.
    `operator_role`: the fleet's `operator_role`, the role the payer's people come in by: never
    locked out nor launch-blocked (lambda/guard/principals.py), like a break-glass principal.
    """
    environment = {
        "ec2limit": str(account.ec2_limit),
        "snstopic": topic_arn,
        "envaction": "proceed",
        "mode": account.mode.value,
        "account_name": account.name,
        "lockout": account.lockout.value,
        "break_glass": ",".join(account.break_glass),
        "stack_roles": ",".join(stack_roles),
        "operator_role": operator_role,
        "unstoppable": account.unstoppable.value,
        "halt": ",".join(sorted(account.halt)),
        "schedule_minutes": str(account.schedule_minutes),
        "blind_runs_to_trip": str(account.blind_runs_to_trip),
        "launch_block": "true" if account.launch_block else "false",
        "launch_block_policy": launch_block_arn,
        # runawaytrain's stacks here, by exact ARN prefix: what they made is never halted
        # (lambda/guard/lambda_functions.py is_own_stack).
        "own_stacks": ",".join(own_stacks),
    }
    if settings_bucket:  # organisation delivery: per-account settings are read from there
        environment["SETTINGS_BUCKET"] = settings_bucket
    if payer_bus:  # the fleet has a payer stack: heartbeats and quarantine requests go there
        environment["payer_bus"] = payer_bus
        environment["quarantine"] = "true" if account.quarantine else "false"
    # Weighted limits only when set: an unset variable means "not checked" to the guard.
    for name in ("max_vcpus", "max_gpus", "max_usd_per_hour"):
        value = getattr(account, name)
        if value is not None:
            environment[name] = str(value)
    # Organisation delivery (docs/settings.md): the settings store overrides these per account;
    # mail also goes to the payer's topic, routed by `notify` (the store's, else this one).
    if settings_bucket:
        environment["SETTINGS_BUCKET"] = settings_bucket
    if payer_topic_arn:
        environment["PAYER_TOPIC_ARN"] = payer_topic_arn
        environment["notify"] = ",".join(account.notify)
    return environment  # no `regions`: the census counts every enabled region, always


class GuardFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        account: Account,
        alerts: AlertTopic,
        stack_roles: Sequence[str],
        launch_block_arn: str,
        fast_trip_queue_arn: str | None = None,
        payer_bus: str = "",
        own_stacks: Sequence[str] = (),
        reserved_concurrency: int | None = 1,
        settings_bucket: str = "",
        payer_topic_arn: str = "",
        role_name: str | None = None,
        operator_role: str = "",
    ) -> None:
        """`reserved_concurrency`: 1 (two runs never halt one account at once), or None for a
        member template (a new account's quota can be 10 concurrent executions, and Lambda
        keeps 10 unreserved: docs/deploy.md).
        `settings_bucket`: the payer's settings bucket (env SETTINGS_BUCKET), or empty.
        `launch_block_arn`: the stack's launch-block policy, the one policy (beside
        AWSDenyAll) the guard may attach.
        `fast_trip_queue_arn`: the queue Lambda polls for this function; its role may read it.
        `payer_bus`: the payer's bus ARN (payer_bus.py), or empty when the fleet has none.
        `settings_bucket`, `payer_topic_arn`, `role_name`: an organisation-delivered member's
        guard (docs/settings.md): its settings store, the payer's topic it also mails, and the
        fixed role name (names.GUARD_ROLE_NAME) the payer's bucket, topic and key admit."""
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        policy = build_guard_policy(
            account,
            topic_arn=alerts.topic.topic_arn,
            key_arn=alerts.key.key_arn,
            log_group_arn=self.log_group.log_group_arn,
            launch_block_arn=launch_block_arn,
            fast_trip_queue_arn=fast_trip_queue_arn,
            payer_bus_arn=payer_bus or None,
            own_stacks=own_stacks,
            settings_bucket=settings_bucket or None,
            payer_topic_arn=payer_topic_arn or None,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            path=ROLE_PATH,
            role_name=role_name,
            description=f"runawaytrain guard for {account.name}: census, halt, launch block, "
            "lockout, notify",
        )
        # Customer managed policies under ROLE_PATH, none inline: the statements outgrow a
        # role's inline quota, and the protection SCP covers the path (split_guard_policy).
        self.policies: list[iam.ManagedPolicy] = []
        for part in split_guard_policy(policy):
            managed = iam.ManagedPolicy(
                self,
                f"{part.name}Policy",
                path=ROLE_PATH,
                # Fixed per part: changing a managed policy's description replaces it.
                description=f"runawaytrain guard: {part.purpose}",
                document=iam.PolicyDocument.from_json(part.document),
                roles=[self.role],
            )
            # The IAM5 findings (wildcard resources) are reported on the policy holding them.
            Validations.of(managed).acknowledge(
                *list_policy_acknowledgments(
                    part.document,
                    account.id,
                    list_settings_acknowledgments(payer_topic_arn) if payer_topic_arn else (),
                )
            )
            self.policies.append(managed)
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"runawaytrain guard for account {account.name} ({account.id})",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(ASSET_DIR), exclude=ASSET_EXCLUDES),
            # Immutable here: every permission is in the statements above, none added by grants.
            role=self.role.without_policy_updates(),
            timeout=TIMEOUT,
            memory_size=MEMORY_MB,
            reserved_concurrent_executions=reserved_concurrency,
            environment=build_guard_environment(
                account,
                alerts.topic.topic_arn,
                stack_roles,
                launch_block_arn,
                payer_bus,
                own_stacks=own_stacks,
                settings_bucket=settings_bucket,
                payer_topic_arn=payer_topic_arn,
                operator_role=operator_role,
            ),
            log_group=self.log_group,
            max_event_age=MAX_EVENT_AGE,
            retry_attempts=RETRY_ATTEMPTS,
            on_failure=destinations.SnsDestination(alerts.topic),
        )
        # Attached by each policy's Roles (AWS::IAM::ManagedPolicy): the function waits for all
        # of them, so it never runs with part of its permissions.
        self.function.node.add_dependency(*self.policies)
