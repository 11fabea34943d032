"""Every AWS API call the guard's code makes is allowed by the role the stack synthesizes.

The guard runs its real trip (halt + launch block + lockout of users and roles + Auto Scaling)
and restore (with restart) in moto while a hook records each operation; the recorded set must be
a subset of the synthesized policy's actions. A call added to the guard without a permission
fails here instead of at 3 a.m.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import boto3
from botocore import xform_name

import guard
from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation
from guard.service_names import ALL, resolve_halt
from guard.settings import Action, Lockout, Settings, WeightedLimits
from runawaytrain_stack.permissions import GUARD_ACTIONS
from tests.batch_account import (
    create_ec2_environment,
    create_node_group,
    create_queue,
    network,
    submit,
)
from tests.bedrock_usage import publish_bedrock_usage
from tests.guard.accounts import (
    UserSpec,
    create_group,
    create_launch_block_policy,
    create_role,
    create_user,
)
from tests.guard.conftest import HOME
from tests.guard.ecs_fixtures import create_fargate_service, run_fargate_task
from tests.sagemaker_resources import (
    create_cluster,
    create_endpoint,
    create_endpoint_config,
    create_processing_job,
    create_training_job,
    create_transform_job,
    create_tuning_job,
)

REGION = "eu-west-1"
# botocore event names use the service id (auto-scaling); IAM uses the action prefix.
IAM_PREFIX = {"ec2": "ec2", "auto-scaling": "autoscaling", "iam": "iam", "sts": "sts", "sns": "sns"}
IAM_PREFIX["application-auto-scaling"] = "application-autoscaling"
IAM_PREFIX["opensearch"] = "es"


class CallRecorder:
    def __init__(self) -> None:
        self.actions: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        with self._lock:
            self.actions.add(f"{IAM_PREFIX.get(service, service)}:{operation}")


def test_every_call_the_guard_makes_is_in_the_synthesized_role(aws):
    create_user(UserSpec("ana", keys=1), [])
    create_role("pipeline")
    create_group(REGION, "farm", 2, [])
    # A warm pool kept Running: halted (PutWarmPool) and restored (DescribeWarmPool) with it.
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="farm", MaxSize=3)
    autoscaling.put_warm_pool(AutoScalingGroupName="farm", PoolState="Running")
    # A notebook instance: stopped (tag first) and started again by restore (issue 21).
    boto3.client("sagemaker", region_name=REGION).create_notebook_instance(
        NotebookInstanceName="vision",
        InstanceType="ml.t3.medium",
        RoleArn="arn:aws:iam::123456789012:role/notebooks",
    )
    # Batch and EKS: an environment disabled and enabled again, a job terminated (halt: all),
    # a node group scaled to 0 and back.
    net = network()
    create_ec2_environment("cpu", net)
    create_queue("cpu-jobs", "cpu")
    submit("cpu-jobs")
    create_node_group("prod", "workers", net, {"minSize": 1, "desiredSize": 2, "maxSize": 3})
    # An ECS service with Auto Scaling (suspended, set to 0, set back) and a standalone task
    # (stopped: `halt:` names every kind here).
    create_fargate_service(REGION, "web", desired=2, scaling=(1, 4))
    run_fargate_task(REGION)
    run_fargate_task(REGION, group="service:web", startedBy="ecs-svc/1")  # not web's: standalone
    # A DB instance, an Aurora cluster and a Lambda function with a reservation (issue 21).
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="password1",
    )
    rds.create_db_cluster(
        DBClusterIdentifier="analytics",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password1",
    )
    rds.create_db_instance(
        DBInstanceIdentifier="analytics-1",
        DBInstanceClass="db.t3.medium",
        Engine="aurora-postgresql",
        DBClusterIdentifier="analytics",
    )
    role = boto3.client("iam").get_role(RoleName="pipeline")
    functions = boto3.client("lambda", region_name=REGION)
    functions.create_function(
        FunctionName="api",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": b"not run"},
    )
    functions.put_function_concurrency(FunctionName="api", ReservedConcurrentExecutions=5)
    # A Redshift cluster with a scheduled resume: paused (tag first, the schedule disabled),
    # resumed by restore (the schedule enabled, the tags removed).
    redshift = boto3.client("redshift", region_name=REGION)
    redshift.create_cluster(
        ClusterIdentifier="warehouse",
        NodeType="ra3.xlplus",
        MasterUsername="admin",
        MasterUserPassword="Password1",
    )
    redshift.create_scheduled_action(
        ScheduledActionName="warehouse-resume",
        TargetAction={"ResumeCluster": {"ClusterIdentifier": "warehouse"}},
        Schedule="cron(0 8 * * ? *)",
        IamRole="arn:aws:iam::123456789012:role/scheduler",
    )
    # Provisioned concurrency on an alias: removed at the trip, put back by restore.
    functions.publish_version(FunctionName="api")
    functions.create_alias(FunctionName="api", Name="live", FunctionVersion="1")
    functions.put_provisioned_concurrency_config(
        FunctionName="api", Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    # An endpoint (deleted, recorded on its configuration, created again with its tags) and one
    # job of each kind (tagged and stopped: `halt: [all]`).
    create_endpoint_config(REGION, "serving", [("ml.m5.large", 1)])
    create_endpoint(REGION, "ranker", "serving", {"team": "search"})
    boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/ranker/variant/v0",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
    )  # read before the delete, for the mail
    create_training_job(REGION, "resnet", "ml.m5.large")
    create_processing_job(REGION, "features", "ml.m5.large")
    create_transform_job(REGION, "scores", "ml.m5.large")
    create_tuning_job(REGION, "search", "ml.m5.large")
    create_cluster(REGION, "llm", [("workers", "ml.c5.xlarge", 2)])  # counted, reported
    # A GameLift fleet (strict_aws/gamelift.py): auto scaling stopped and scaled to 0 (tagged
    # first), both given back by restore.
    boto3.client("gamelift", region_name=REGION).create_fleet(
        Name="arena", EC2InstanceType="c5.large", BuildId="build-1"
    )
    publish_bedrock_usage(REGION, "amazon.nova-micro-v1:0", 1000, 200)  # counted, refused
    # Lightsail and OpenSearch (counted with their prices, reported) and a NAT gateway (recorded
    # on its Elastic IP, then deleted: `halt: [all]`).
    lightsail = boto3.client("lightsail", region_name=REGION)
    lightsail.create_instances(
        instanceNames=["web"],
        availabilityZone=f"{REGION}a",
        blueprintId="ubuntu_24_04",
        bundleId="nano_3_0",
    )
    lightsail.create_relational_database(
        relationalDatabaseName="orders",
        relationalDatabaseBlueprintId="postgres_16",
        relationalDatabaseBundleId="micro_2_0",
        masterDatabaseName="app",
        masterUsername="admin",
    )
    boto3.client("opensearch", region_name=REGION).create_domain(DomainName="logs")
    ec2 = boto3.client("ec2", region_name=REGION)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=allocation)
    # A Studio app on an ML instance: described, tagged and deleted (`halt: [all]`).
    studio = boto3.client("sagemaker", region_name=REGION)
    domain = studio.create_domain(
        DomainName="research",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": "arn:aws:iam::123456789012:role/studio"},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainArn"].rsplit("/", 1)[1]
    studio.create_app(
        DomainId=domain,
        SpaceName="team",
        AppType="JupyterLab",
        AppName="default",
        ResourceSpec={"InstanceType": "ml.g5.xlarge"},
    )
    topic = boto3.client("sns", region_name=HOME).create_topic(Name="notify")["TopicArn"]
    recorder = CallRecorder()
    session = boto3.session.Session(region_name=HOME)
    session.events.register("before-call", recorder)
    clients = ClientFactory(session)
    launch_block = create_launch_block_policy()
    settings = Settings(
        ec2limit=0,
        snstopic=topic,
        lockout=Lockout.USERS_AND_ROLES,
        launch_block=True,
        launch_block_policy=launch_block,
        halt=resolve_halt([ALL]),
    )
    account = "123456789012"

    tripped = run_guard(settings, Invocation(), clients, account)
    restore = Invocation(action=Action.RESTORE, incident=tripped.incident, restart_instances=True)
    run_restore(settings, restore, clients, account)
    # The region list is only asked for when `regions` is unset.
    run_guard(Settings(ec2limit=99, snstopic=topic), Invocation(), clients, account)
    # The weighted limits look up instance types and prices.
    weighted = WeightedLimits(vcpus=9999, gpus=99, usd_per_hour=9999)
    run_guard(
        Settings(ec2limit=99, snstopic=topic, weighted=weighted), Invocation(), clients, account
    )

    assert tripped.locked_users == ["ana"]
    assert tripped.launch_blocked == ["role/batch", "role/pipeline", "user/ana"]
    assert tripped.suspended_asgs == ["farm"]
    assert {"iam:AttachRolePolicy", "ec2:StartInstances", "ec2:DescribeRegions"} <= recorder.actions
    assert {"autoscaling:PutWarmPool", "autoscaling:DescribeWarmPool"} <= recorder.actions
    assert {"ec2:DescribeInstanceTypes", "pricing:GetProducts"} <= recorder.actions
    notebooks = {"sagemaker:StopNotebookInstance", "sagemaker:StartNotebookInstance"}
    assert notebooks | {"sagemaker:AddTags", "sagemaker:DeleteTags"} <= recorder.actions
    batch_eks = {"batch:UpdateComputeEnvironment", "batch:TagResource", "batch:UntagResource"}
    batch_eks |= {"batch:TerminateJob", "eks:UpdateNodegroupConfig", "eks:TagResource"}
    assert batch_eks | {"eks:UntagResource", "eks:ListNodegroups"} <= recorder.actions
    ecs = {"ecs:UpdateService", "ecs:TagResource", "ecs:UntagResource", "ecs:StopTask"}
    assert ecs | {"application-autoscaling:RegisterScalableTarget"} <= recorder.actions
    databases = {"rds:StopDBInstance", "rds:StartDBInstance", "rds:StopDBCluster"}
    assert databases | {"rds:StartDBCluster", "rds:RemoveTagsFromResource"} <= recorder.actions
    throttles = {"lambda:PutFunctionConcurrency", "lambda:TagResource", "lambda:UntagResource"}
    assert throttles <= recorder.actions
    provisioned = {"lambda:DeleteProvisionedConcurrencyConfig", "lambda:ListFunctions"}
    assert provisioned | {"lambda:PutProvisionedConcurrencyConfig"} <= recorder.actions
    endpoints = {"sagemaker:DeleteEndpoint", "sagemaker:CreateEndpoint"}
    jobs = {"sagemaker:StopTrainingJob", "sagemaker:StopHyperParameterTuningJob"}
    assert endpoints | jobs | {"sagemaker:ListEndpointConfigs"} <= recorder.actions
    assert "sagemaker:DescribeCluster" in recorder.actions
    warehouses = {"redshift:PauseCluster", "redshift:ResumeCluster", "redshift:CreateTags"}
    warehouses |= {"redshift:DeleteTags", "redshift:ModifyScheduledAction"}
    assert warehouses <= recorder.actions
    scaling = {"DescribeScalableTargets", "DescribeScalingPolicies", "DescribeScheduledActions"}
    assert {f"application-autoscaling:{call}" for call in scaling} <= recorder.actions
    fleets = {"gamelift:StopFleetActions", "gamelift:StartFleetActions", "gamelift:TagResource"}
    fleets |= {"gamelift:UpdateFleetCapacity", "gamelift:UntagResource"}
    assert fleets | {"gamelift:DescribeFleetCapacity"} <= recorder.actions
    assert "cloudwatch:GetMetricData" in recorder.actions
    lightsail_calls = {"lightsail:GetInstances", "lightsail:GetBundles"}
    lightsail_calls |= {
        "lightsail:GetRelationalDatabases",
        "lightsail:GetRelationalDatabaseBundles",
    }
    assert lightsail_calls | {"es:ListDomainNames", "es:DescribeDomains"} <= recorder.actions
    assert {"ec2:DescribeNatGateways", "ec2:DeleteNatGateway"} <= recorder.actions
    assert {
        "sagemaker:ListApps",
        "sagemaker:DescribeApp",
        "sagemaker:DeleteApp",
    } <= recorder.actions
    missing = recorder.actions - set(GUARD_ACTIONS)
    assert not missing, f"the guard calls {sorted(missing)} but its role does not allow them"


# Called by AWS on the guard's behalf, never by its code: Lambda writes its logs, SNS uses the
# topic's key when the guard publishes, EC2 creates a grant when it starts an instance whose
# volumes use a customer managed key (each commented in runawaytrain_stack/permissions.py).
CALLED_FOR_THE_GUARD = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "kms:GenerateDataKey",
    "kms:Decrypt",
    "kms:CreateGrant",
    # Application Auto Scaling deregisters a deleted endpoint's scalable targets with the
    # guard's permission (runawaytrain_stack/permissions.py, ENDPOINT_SCALING_ACTIONS).
    "application-autoscaling:DeregisterScalableTarget",
}


def test_every_action_the_role_allows_is_called_somewhere_in_the_guard_code() -> None:
    """The converse of the recorded check, over all of the code (Spot, fleets and termination
    paths included): an allowed action no line of lambda/guard calls is an allow to drop."""
    source = "\n".join(p.read_text() for p in Path(guard.__file__).parent.glob("*.py"))
    uncalled = [
        action
        for action in GUARD_ACTIONS
        if action not in CALLED_FOR_THE_GUARD
        and re.search(rf"\b{xform_name(action.split(':')[1])}\b", source) is None
    ]
    assert uncalled == []
