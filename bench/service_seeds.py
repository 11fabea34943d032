"""A mixed account for bench/halt_services.py: `items` of every kind of capacity outside EC2 the
guard counts (lambda/guard/services.py MODULES, by their `halt:` name), made in moto under the
strict-AWS layer, spread as a real account spreads them: most in one Region, some in a few others.

One seeder per kind, each making its share of a Region in as few calls as the API allows, with
the fewest parameters moto and the strict layer accept (the same shapes as the guard's tests,
which bench/ may not import). Kinds that share a resource are made together, as AWS has them:
each Batch environment runs the Batch job of its own queue, and each Lambda function carries the
provisioned concurrency of its alias (seeded once, counted by both kinds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bench"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/bench:latest"
# Share of each kind's items per Region: most where the account lives, the rest in four others.
SPREAD = (
    ("us-east-1", 0.70),
    ("us-west-2", 0.10),
    ("eu-west-1", 0.10),
    ("eu-central-1", 0.05),
    ("ap-northeast-1", 0.05),
)


def spread(items: int) -> dict[str, int]:
    """{Region: items} per SPREAD, the rounding left to the first Region."""
    shares = {region: int(items * share) for region, share in SPREAD[1:]}
    return {SPREAD[0][0]: items - sum(shares.values()), **shares}


def _network(region: str) -> dict[str, str]:
    """A VPC, subnet and security group in the Region (made once)."""
    ec2 = boto3.client("ec2", region_name=region)
    found = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["bench"]}])["Subnets"]
    if found:
        subnet = found[0]
    else:
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        # As a default VPC has it: ECS gives a task's interface a private DNS name.
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(
            VpcId=vpc,
            CidrBlock="10.9.0.0/20",
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "bench"}]}
            ],
        )["Subnet"]
        ec2.create_security_group(GroupName="bench", Description="bench", VpcId=vpc)
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "group-name", "Values": ["bench"]},
            {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
        ]
    )["SecurityGroups"]
    return {"vpc": subnet["VpcId"], "subnet": subnet["SubnetId"], "group": groups[0]["GroupId"]}


def _role() -> str:
    iam = boto3.client("iam", region_name="us-east-1")
    try:
        return str(iam.get_role(RoleName="bench")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"])


def notebooks(region: str, count: int) -> None:
    sagemaker = boto3.client("sagemaker", region_name=region)
    for n in range(count):
        sagemaker.create_notebook_instance(
            NotebookInstanceName=f"notebook-{n}", InstanceType="ml.t3.medium", RoleArn=ROLE
        )


def batch_environments(region: str, count: int) -> None:
    """Fargate environments, each with a queue and one job running on it (the job is a
    batch-jobs item: a Fargate environment bills through its jobs)."""
    net, role = _network(region), _role()
    batch = boto3.client("batch", region_name=region)
    batch.register_job_definition(
        jobDefinitionName="work",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "busybox",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "2048"},
            ],
        },
    )
    for n in range(count):
        batch.create_compute_environment(
            computeEnvironmentName=f"batch-{n}",
            type="MANAGED",
            state="ENABLED",
            computeResources={
                "type": "FARGATE",
                "maxvCpus": 16,
                "subnets": [net["subnet"]],
                "securityGroupIds": [net["group"]],
            },
            serviceRole=role,
        )
        batch.create_job_queue(
            jobQueueName=f"queue-{n}",
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": f"batch-{n}"}],
        )
        batch.submit_job(jobName=f"job-{n}", jobQueue=f"queue-{n}", jobDefinition="work")


def node_groups(region: str, count: int) -> None:
    """Clusters of up to 10 managed node groups each."""
    net, role = _network(region), _role()
    eks = boto3.client("eks", region_name=region)
    for n in range(count):
        cluster = f"cluster-{n // 10}"
        if n % 10 == 0:
            eks.create_cluster(name=cluster, roleArn=role, resourcesVpcConfig={})
        eks.create_nodegroup(
            clusterName=cluster,
            nodegroupName=f"nodes-{n}",
            nodeRole=role,
            subnets=[net["subnet"]],
            instanceTypes=["m5.large"],
            scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 2},
        )


def _task_definition(ecs: Any) -> str:
    ecs.create_cluster(clusterName="prod")
    return str(
        ecs.register_task_definition(
            family="web",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="1024",
            memory="2048",
            containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512}],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def ecs_services(region: str, count: int) -> None:
    """Fargate services of 2 tasks, each kept in [1, 4] by Application Auto Scaling."""
    ecs = boto3.client("ecs", region_name=region)
    scaling = boto3.client("application-autoscaling", region_name=region)
    definition = _task_definition(ecs)
    for n in range(count):
        ecs.create_service(
            cluster="prod",
            serviceName=f"service-{n}",
            taskDefinition=definition,
            desiredCount=2,
            launchType="FARGATE",
        )
        scaling.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/prod/service-{n}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1,
            MaxCapacity=4,
        )


def ecs_tasks(region: str, count: int) -> None:
    """Standalone Fargate tasks, up to 10 a RunTask (its `count` at most)."""
    net = _network(region)
    ecs = boto3.client("ecs", region_name=region)
    definition = _task_definition(ecs)
    subnets, groups = [net["subnet"]], [net["group"]]
    network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": groups}}
    for start in range(0, count, 10):
        ecs.run_task(
            cluster="prod",
            taskDefinition=definition,
            launchType="FARGATE",
            networkConfiguration=network,
            count=min(10, count - start),
        )


def databases(region: str, count: int) -> None:
    rds = boto3.client("rds", region_name=region)
    for n in range(count):
        rds.create_db_instance(
            DBInstanceIdentifier=f"db-{n}",
            DBInstanceClass="db.m5.large",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="password1",
        )


def functions(region: str, count: int) -> None:
    """Functions with version 1, an alias `live` holding 2 provisioned executions (a
    lambda-provisioned-concurrency item), and one in three a reservation of 5."""
    role = _role()
    client = boto3.client("lambda", region_name=region)
    for n in range(count):
        name = f"function-{n}"
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": b"bench: never invoked"},
        )
        client.publish_version(FunctionName=name)
        client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        if n % 3 == 0:
            client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
        client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2
        )


def endpoints(region: str, count: int) -> None:
    """Real-time endpoints of one ml.m5.large, from one model and a configuration each."""
    sagemaker = boto3.client("sagemaker", region_name=region)
    sagemaker.create_model(
        ModelName="model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    for n in range(count):
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"endpoint-{n}-config",
            ProductionVariants=[
                {
                    "VariantName": "main",
                    "ModelName": "model",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sagemaker.create_endpoint(
            EndpointName=f"endpoint-{n}", EndpointConfigName=f"endpoint-{n}-config"
        )


def jobs(region: str, count: int) -> None:
    """Training, processing and transform jobs in turn."""
    sagemaker = boto3.client("sagemaker", region_name=region)
    for n in range(count):
        if n % 3 == 0:
            sagemaker.create_training_job(
                TrainingJobName=f"train-{n}",
                AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                RoleArn=ROLE,
                OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
                ResourceConfig={
                    "InstanceType": "ml.g5.xlarge",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 10,
                },
                StoppingCondition={"MaxRuntimeInSeconds": 3600},
            )
        elif n % 3 == 1:
            sagemaker.create_processing_job(
                ProcessingJobName=f"process-{n}",
                ProcessingResources={
                    "ClusterConfig": {
                        "InstanceCount": 1,
                        "InstanceType": "ml.m5.xlarge",
                        "VolumeSizeInGB": 10,
                    }
                },
                AppSpecification={"ImageUri": IMAGE},
                RoleArn=ROLE,
            )
        else:
            sagemaker.create_transform_job(
                TransformJobName=f"transform-{n}",
                ModelName="model",
                TransformInput={
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in"}
                    }
                },
                TransformOutput={"S3OutputPath": "s3://bucket/out"},
                TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
            )


def hyperpod_clusters(region: str, count: int) -> None:
    sagemaker = boto3.client("sagemaker", region_name=region)
    for n in range(count):
        sagemaker.create_cluster(
            ClusterName=f"hyperpod-{n}",
            InstanceGroups=[
                {
                    "InstanceGroupName": "workers",
                    "InstanceType": "ml.g5.xlarge",
                    "InstanceCount": 2,
                    # moto: the source must start with s3://sagemaker
                    "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-b/", "OnCreate": "on.sh"},
                    "ExecutionRole": ROLE,
                    "ThreadsPerCore": 1,
                }
            ],
        )


def warehouses(region: str, count: int) -> None:
    redshift = boto3.client("redshift", region_name=region)
    for n in range(count):
        redshift.create_cluster(
            ClusterIdentifier=f"warehouse-{n}",
            NodeType="ra3.xlplus",
            NumberOfNodes=2,
            MasterUsername="admin",
            MasterUserPassword="Password1",
        )


def fleets(region: str, count: int) -> None:
    """ACTIVE fleets (pending time 0) of 2 instances in [1, 4]."""
    gamelift = boto3.client("gamelift", region_name=region)
    for n in range(count):
        fleet = gamelift.create_fleet(
            Name=f"fleet-{n}", EC2InstanceType="c5.large", BuildId="build-1"
        )["FleetAttributes"]["FleetId"]
        gamelift.update_fleet_capacity(FleetId=fleet, DesiredInstances=2, MinSize=1, MaxSize=4)


def bedrock_usage(region: str, count: int) -> None:
    """Tokens of `count` models two minutes ago (nothing to halt: the launch block refuses)."""
    when = datetime.now(UTC) - timedelta(minutes=2)
    data = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": "ModelId", "Value": f"model-{n:03d}"}],
            "Value": 1000.0,
            "Timestamp": when,
        }
        for n in range(count)
        for metric in ("Invocations", "InputTokenCount", "OutputTokenCount")
    ]
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/Bedrock", MetricData=data[start : start + 1000])


def lightsail_instances(region: str, count: int) -> None:
    lightsail = boto3.client("lightsail", region_name=region)
    names = [f"box-{n}" for n in range(count)]
    for start in range(0, count, 20):
        lightsail.create_instances(
            instanceNames=names[start : start + 20],
            availabilityZone=f"{region}a",
            blueprintId="ubuntu_24_04",
            bundleId="medium_3_0",
        )


def lightsail_databases(region: str, count: int) -> None:
    lightsail = boto3.client("lightsail", region_name=region)
    for n in range(count):
        lightsail.create_relational_database(
            relationalDatabaseName=f"ldb-{n}",
            relationalDatabaseBlueprintId="postgres_16",
            relationalDatabaseBundleId="large_2_0",
            masterDatabaseName="app",
            masterUsername="admin",
        )


def search_domains(region: str, count: int) -> None:
    opensearch = boto3.client("opensearch", region_name=region)
    for n in range(count):
        opensearch.create_domain(
            DomainName=f"search-{n}",
            ClusterConfig={"InstanceType": "r6g.large.search", "InstanceCount": 3},
        )


def nat_gateways(region: str, count: int) -> None:
    """Public gateways, each with an Elastic IP of its own."""
    net = _network(region)
    ec2 = boto3.client("ec2", region_name=region)
    for _ in range(count):
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=allocation)


def studio_apps(region: str, count: int) -> None:
    """JupyterLab apps on ml.g5.xlarge, one per space of one domain."""
    sagemaker = boto3.client("sagemaker", region_name=region)
    domain = sagemaker.create_domain(
        DomainName="research",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": ROLE},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainArn"].rsplit("/", 1)[1]
    for n in range(count):
        sagemaker.create_app(
            DomainId=domain,
            AppType="JupyterLab",
            AppName="default",
            SpaceName=f"space-{n}",
            ResourceSpec={"InstanceType": "ml.g5.xlarge"},
        )


# `halt:` name -> its seeder; batch-jobs are made with batch-environments (each runs its own
# queue's job) and lambda-provisioned-concurrency with lambda-functions (each function's alias).
SEEDERS: dict[str, Callable[[str, int], None]] = {
    "sagemaker-notebooks": notebooks,
    "batch-environments": batch_environments,  # and batch-jobs
    "eks-nodegroups": node_groups,
    "ecs-services": ecs_services,
    "ecs-tasks": ecs_tasks,
    "rds-databases": databases,
    "lambda-functions": functions,  # and lambda-provisioned-concurrency
    "sagemaker-endpoints": endpoints,
    "sagemaker-jobs": jobs,
    "sagemaker-clusters": hyperpod_clusters,
    "redshift-clusters": warehouses,
    "gamelift-fleets": fleets,
    "bedrock-tokens": bedrock_usage,
    "lightsail-instances": lightsail_instances,
    "lightsail-databases": lightsail_databases,
    "opensearch-domains": search_domains,
    "nat-gateways": nat_gateways,
    "sagemaker-apps": studio_apps,
}


def seed_services(items: int) -> None:
    """`items` of every kind, spread over SPREAD's Regions (jobs after the models they use)."""
    for seeder in SEEDERS.values():
        for region, count in spread(items).items():
            seeder(region, count)


def seed_instances(items: int) -> None:
    """`items` EC2 instances, spread as the rest."""
    for region, count in spread(items).items():
        boto3.client("ec2", region_name=region).run_instances(
            ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="t3.micro"
        )
