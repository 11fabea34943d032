"""SageMaker endpoints and jobs for tests (strict layer and guard): the fewest parameters moto
and botocore accept."""

from __future__ import annotations

from typing import Any

import boto3

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
IMAGE = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/train:latest"


def sagemaker(region: str) -> Any:
    return boto3.client("sagemaker", region_name=region)


def create_endpoint_config(
    region: str, name: str, variants: list[tuple[str, int]], model: str = "model"
) -> str:
    """`variants`: (instance type, instances) each; an instance type "serverless" makes a
    serverless variant."""
    client = sagemaker(region)
    try:
        client.describe_model(ModelName=model)
    except client.exceptions.ClientError:
        client.create_model(
            ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
        )
    production = []
    for index, (instance_type, count) in enumerate(variants):
        variant: dict[str, Any] = {"VariantName": f"v{index}", "ModelName": model}
        if instance_type == "serverless":
            variant["ServerlessConfig"] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
        else:
            variant |= {"InstanceType": instance_type, "InitialInstanceCount": count}
        production.append(variant)
    response = client.create_endpoint_config(EndpointConfigName=name, ProductionVariants=production)
    return str(response["EndpointConfigArn"])


def create_endpoint(region: str, name: str, config: str, tags: dict[str, str] | None = None) -> str:
    response = sagemaker(region).create_endpoint(
        EndpointName=name,
        EndpointConfigName=config,
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )
    return str(response["EndpointArn"])


def endpoint_status(region: str, name: str) -> str | None:
    """None: no such endpoint."""
    client = sagemaker(region)
    try:
        return str(client.describe_endpoint(EndpointName=name)["EndpointStatus"])
    except client.exceptions.ClientError:
        return None


def tags_of(region: str, arn: str) -> dict[str, str]:
    found = sagemaker(region).list_tags(ResourceArn=arn)["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def create_training_job(region: str, name: str, instance_type: str, count: int = 1) -> str:
    response = sagemaker(region).create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        ResourceConfig={
            "InstanceType": instance_type,
            "InstanceCount": count,
            "VolumeSizeInGB": 10,
        },
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    return str(response["TrainingJobArn"])


def create_processing_job(region: str, name: str, instance_type: str, count: int = 1) -> str:
    response = sagemaker(region).create_processing_job(
        ProcessingJobName=name,
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": count,
                "InstanceType": instance_type,
                "VolumeSizeInGB": 10,
            }
        },
        AppSpecification={"ImageUri": IMAGE},
        RoleArn=ROLE,
    )
    return str(response["ProcessingJobArn"])


def create_transform_job(region: str, name: str, instance_type: str, count: int = 1) -> str:
    response = sagemaker(region).create_transform_job(
        TransformJobName=name,
        ModelName="model",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}
        },
        TransformOutput={"S3OutputPath": "s3://bucket/out"},
        TransformResources={"InstanceType": instance_type, "InstanceCount": count},
    )
    return str(response["TransformJobArn"])


def create_tuning_job(region: str, name: str, instance_type: str) -> str:
    response = sagemaker(region).create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
            "ResourceConfig": {
                "InstanceType": instance_type,
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    )
    return str(response["HyperParameterTuningJobArn"])


def launch_for_tuning_job(region: str, tuning_job: str, name: str, instance_type: str) -> str:
    """A training job as a tuning job launches it (moto's tuning jobs launch none): its
    DescribeTrainingJob names the tuning job (TuningJobArn)."""
    from moto.sagemaker.models import sagemaker_backends

    arn = create_training_job(region, name, instance_type)
    backend = sagemaker_backends[ACCOUNT][region]
    backend.training_jobs[name].tuning_job_arn = backend.hyper_parameter_tuning_jobs[tuning_job].arn
    return arn


def create_cluster(region: str, name: str, groups: list[tuple[str, str, int]]) -> str:
    """A HyperPod cluster; `groups`: (group name, instance type, nodes) each."""
    response = sagemaker(region).create_cluster(
        ClusterName=name,
        InstanceGroups=[
            {
                "InstanceGroupName": group,
                "InstanceType": instance_type,
                "InstanceCount": count,
                "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-bucket/", "OnCreate": "x.sh"},
                "ExecutionRole": ROLE,
                "ThreadsPerCore": 1,
            }
            for group, instance_type, count in groups
        ],
    )
    return str(response["ClusterArn"])
