"""Strict SageMaker endpoints and jobs: endpoints are Creating, then InService, and Deleting
before they are gone, refuse a delete in progress and a second create; jobs run until stopped,
stop through Stopping, and refuse a second stop."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from strict_aws import StrictAWS, strict_aws
from tests.sagemaker_resources import (
    create_endpoint,
    create_endpoint_config,
    create_processing_job,
    create_training_job,
    create_transform_job,
    create_tuning_job,
    endpoint_status,
    launch_for_tuning_job,
    sagemaker,
)
from tests.strict_aws.conftest import FakeClock
from tests.strict_aws.ec2_calls import REGION, error_of

ARN = f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/ep"


def client() -> Any:
    return sagemaker(REGION)


def endpoint(name: str = "ep") -> str:
    create_endpoint_config(REGION, "cfg", [("ml.m5.large", 1)])
    return create_endpoint(REGION, name, "cfg")


def listed() -> dict[str, str]:
    found = client().list_endpoints()["Endpoints"]
    return {e["EndpointName"]: e["EndpointStatus"] for e in found}


def test_an_endpoint_is_creating_until_the_clock_passes(strict: StrictAWS, clock: FakeClock):
    endpoint()
    assert endpoint_status(REGION, "ep") == "Creating"
    assert listed() == {"ep": "Creating"}
    clock.now += 30
    assert endpoint_status(REGION, "ep") == "InService"
    assert listed() == {"ep": "InService"}


def test_delete_refused_in_progress_then_deleting_then_gone(strict: StrictAWS, clock: FakeClock):
    endpoint()
    delete = client().delete_endpoint
    in_progress = ("ValidationException", f'Cannot update in-progress endpoint "{ARN}".')

    assert error_of(delete, EndpointName="ep") == in_progress  # Creating
    clock.now += 30
    delete(EndpointName="ep")
    assert endpoint_status(REGION, "ep") == "Deleting"
    assert error_of(delete, EndpointName="ep") == in_progress  # Deleting
    clock.now += 30
    assert endpoint_status(REGION, "ep") is None
    assert listed() == {}
    assert error_of(delete, EndpointName="ep") == (
        "ValidationException",
        f'Could not find endpoint "{ARN}".',
    )


def test_create_refuses_a_name_that_exists_even_while_deleting(strict: StrictAWS, clock: FakeClock):
    endpoint()
    exists = ("ValidationException", f'Cannot create already existing endpoint "{ARN}".')
    create = client().create_endpoint
    assert error_of(create, EndpointName="ep", EndpointConfigName="cfg") == exists
    clock.now += 30
    client().delete_endpoint(EndpointName="ep")
    assert error_of(create, EndpointName="ep", EndpointConfigName="cfg") == exists
    clock.now += 30
    create(EndpointName="ep", EndpointConfigName="cfg")
    assert endpoint_status(REGION, "ep") == "Creating"


def test_uninstall_settles_endpoints(clock: FakeClock) -> None:
    with mock_aws():
        with strict_aws(pending_seconds=30, clock=clock):
            endpoint()
        assert endpoint_status(REGION, "ep") == "InService"


def test_jobs_run_until_stopped_and_stop_through_stopping(strict: StrictAWS, clock: FakeClock):
    create_endpoint_config(REGION, "cfg", [("ml.m5.large", 1)])  # the transform job's model
    create_training_job(REGION, "train", "ml.p3.2xlarge")
    create_processing_job(REGION, "process", "ml.m5.xlarge", 2)
    create_transform_job(REGION, "transform", "ml.m5.xlarge")
    sm = client()
    calls = (
        (sm.describe_training_job, sm.stop_training_job, "TrainingJobName", "train", "training"),
        (
            sm.describe_processing_job,
            sm.stop_processing_job,
            "ProcessingJobName",
            "process",
            "processing",
        ),
        (
            sm.describe_transform_job,
            sm.stop_transform_job,
            "TransformJobName",
            "transform",
            "transform",
        ),
    )
    field = {"train": "TrainingJobStatus", "process": "ProcessingJobStatus"}
    for describe, stop, key, name, words in calls:
        status_field = field.get(name, "TransformJobStatus")
        assert describe(**{key: name})[status_field] == "InProgress"
        stop(**{key: name})
        assert describe(**{key: name})[status_field] == "Stopping"
        refusal = f"The request was rejected because the {words} job is in status Stopping."
        assert error_of(stop, **{key: name}) == ("ValidationException", refusal)
    clock.now += 30
    for describe, _, key, name, _ in calls:
        assert describe(**{key: name})[field.get(name, "TransformJobStatus")] == "Stopped"
    processing = sm.describe_processing_job(ProcessingJobName="process")
    assert processing["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    running = sm.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"]
    assert running == []


def test_stopping_a_tuning_job_stops_the_training_jobs_it_launched(strict: StrictAWS):
    create_tuning_job(REGION, "tune", "ml.p3.2xlarge")
    launch_for_tuning_job(REGION, "tune", "tune-001", "ml.p3.2xlarge")
    create_training_job(REGION, "other", "ml.p3.2xlarge")
    sm = client()

    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")

    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    assert tuning["HyperParameterTuningJobStatus"] == "Stopping"
    assert sm.describe_training_job(TrainingJobName="tune-001")["TrainingJobStatus"] == "Stopping"
    assert sm.describe_training_job(TrainingJobName="other")["TrainingJobStatus"] == "InProgress"
    assert error_of(sm.stop_hyper_parameter_tuning_job, HyperParameterTuningJobName="nope")[0] == (
        "ResourceNotFound"
    )


def test_deleting_an_endpoint_deregisters_its_auto_scaling(strict: StrictAWS, clock: FakeClock):
    endpoint()
    clock.now += 30
    scaling = boto3.client("application-autoscaling", region_name=REGION)
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/ep/variant/v0",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=4)
    scaling.put_scaling_policy(
        **target,
        PolicyName="invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )

    client().delete_endpoint(EndpointName="ep")

    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
