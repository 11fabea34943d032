"""What a tripped account must refuse: every API call that starts billing compute or tokens.

One list, denied from two sides until restore: from the payer by the quarantine SCP (scp.py,
`NoNewCompute`) and from inside by the guard stack's launch-block policy (launch_block.py), so
the two can never disagree about what a "launch" is. Both bind principals only: service-linked
roles (Auto Scaling, Spot Fleet, EKS, Batch and ECS capacity providers launching on a customer's
behalf) are bound by neither ("SCPs don't affect service-linked roles", Organizations User Guide,
"Service control policies"; the guard never edits them, principals.py); the halt (suspended
processes, fleets at 0) stops what they would launch.

Why refusing matters even after the halt: "Every time you start your instance, Amazon EC2
charges a one-minute minimum for instance usage" (EC2 API Reference, StartInstances), so each
launch the halt stops again still bills a minute; only refusing the launch itself saves it.
"""

from __future__ import annotations

# Everything a runaway uses to add compute or buy capacity. EC2: launches, starts, Spot and
# fleets (RunInstances is what Auto Scaling, EC2 Fleet, Karpenter and Batch call under the
# caller's or a passed role), capacity purchases that bill with nothing running. Auto Scaling:
# creating groups, raising capacity and resuming the processes the halt suspended.
LAUNCH_ACTIONS = (
    "ec2:RunInstances",
    "ec2:StartInstances",
    "ec2:CreateFleet",
    "ec2:ModifyFleet",
    "ec2:RequestSpotInstances",
    "ec2:RequestSpotFleet",
    "ec2:ModifySpotFleetRequest",
    "ec2:ModifyInstanceAttribute",  # e.g. a bigger instance type, or stop protection back on
    "ec2:AllocateHosts",
    "ec2:CreateCapacityReservation",
    "ec2:ModifyCapacityReservation",
    "ec2:PurchaseReservedInstancesOffering",
    "ec2:PurchaseHostReservation",
    "ec2:PurchaseScheduledInstances",
    "ec2:RunScheduledInstances",
    "ec2:CreateLaunchTemplateVersion",
    "autoscaling:CreateAutoScalingGroup",
    "autoscaling:UpdateAutoScalingGroup",
    "autoscaling:SetDesiredCapacity",
    "autoscaling:ExecutePolicy",
    "autoscaling:ResumeProcesses",
    "autoscaling:PutScheduledUpdateGroupAction",
    "autoscaling:BatchPutScheduledUpdateGroupAction",
    "autoscaling:PutScalingPolicy",
    "autoscaling:StartInstanceRefresh",
    "autoscaling:AttachInstances",
    "autoscaling:ExitStandby",
    "autoscaling:PutWarmPool",
    # Capacity bought ahead, billing whether used or not.
    "ec2:PurchaseCapacityBlock",
    "ec2:PurchaseCapacityBlockExtension",
    "ec2:CreateCapacityReservationFleet",
    "savingsplans:CreateSavingsPlan",
    # Bedrock bills per token and has no stop: refusing invocation is its halt. bedrock:Invoke*
    # is every invocation in the Service Authorization Reference (InvokeModel,
    # InvokeModelWithResponseStream, InvokeAgent, InvokeInlineAgent, InvokeFlow,
    # InvokeDataAutomation, ...); Converse and StartAsyncInvoke are authorized as
    # bedrock:InvokeModel and ConverseStream as bedrock:InvokeModelWithResponseStream ("This
    # operation requires permission for the bedrock:InvokeModel action", Bedrock API Reference,
    # Converse). CallWithBearerToken: calls made with a Bedrock API key. Provisioned throughput
    # bills by the hour for its commitment term; jobs (batch inference, customization, import,
    # copy, evaluation) bill once started. bedrock-mantle is the separate prefix of "Amazon
    # Bedrock powered by AWS Mantle" (CreateInference, CreateFineTuningJob, ...).
    "bedrock:Invoke*",
    "bedrock:CallWithBearerToken",
    "bedrock:CreateProvisionedModelThroughput",
    "bedrock:UpdateProvisionedModelThroughput",
    "bedrock:Create*Job",
    "bedrock-mantle:Create*",
    "bedrock-mantle:CallWithBearerToken",
    # GPU spend that is not a RunInstances of the caller's own: SageMaker jobs, endpoints,
    # notebooks and HyperPod clusters; Batch jobs and compute environments; EKS node groups; ECS
    # tasks and services (Batch, EKS and ECS capacity providers launch through service-linked
    # roles, which no SCP binds, so their API is the place to stop them).
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:StartNotebookInstance",
    "sagemaker:UpdateNotebookInstance",  # a bigger instance type for a halted notebook
    "sagemaker:CreateCluster",
    "sagemaker:UpdateCluster",
    # Inference components: an endpoint hosting them cannot be deleted while they exist
    # (lambda/guard/sagemaker_endpoints.py), and a new component or more copies of one make its
    # managed instance scaling launch instances. UpdateInferenceComponent* is the update and
    # UpdateInferenceComponentRuntimeConfig (the copy count).
    "sagemaker:CreateInferenceComponent",
    "sagemaker:UpdateInferenceComponent*",
    "sagemaker:CreateApp",  # a Studio app's ML instance (a domain or space alone runs none)
    "batch:SubmitJob",
    "batch:CreateComputeEnvironment",
    "batch:UpdateComputeEnvironment",
    "eks:CreateNodegroup",
    "eks:UpdateNodegroupConfig",
    "ecs:RunTask",
    "ecs:StartTask",
    "ecs:CreateService",
    "ecs:UpdateService",
    "ecs:CreateTaskSet",  # an EXTERNAL-controller service's tasks start through task sets
    # Resuming the Application Auto Scaling a halt suspended (SuspendedState false again) lets
    # its policies and schedules raise an ECS service (or a SageMaker endpoint) through
    # AAS's service-linked role, which neither side binds; it also moves the capacity into
    # [min, max] at once (AAS API Reference, RegisterScalableTarget).
    "application-autoscaling:RegisterScalableTarget",
    # A scaling policy or scheduled action on a target the halt did not reach (a Spot Fleet, an
    # Aurora cluster's replica count, ...) raises its capacity through the same service-linked
    # role; on a suspended target it waits, but only RegisterScalableTarget resumes it.
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:PutScheduledAction",
    # GameLift: new fleets and locations, more instances, auto scaling the halt stopped
    # (lambda/guard/gamelift_fleets.py), and FleetIQ game server groups (EC2 Auto Scaling
    # groups GameLift drives with a passed role).
    "gamelift:Create*Fleet*",  # CreateFleet, CreateFleetLocations, CreateContainerFleet
    "gamelift:UpdateFleetCapacity",
    "gamelift:UpdateContainerFleet",
    "gamelift:StartFleetActions",
    "gamelift:CreateGameServerGroup",
    "gamelift:UpdateGameServerGroup",
    "gamelift:ResumeGameServerGroup",
    # Lightsail bills a bundle's hourly price from creation to deletion (stopped too):
    # instances and managed databases, new or from a snapshot.
    "lightsail:CreateInstances",
    "lightsail:CreateInstancesFromSnapshot",
    "lightsail:CreateRelationalDatabase",
    "lightsail:CreateRelationalDatabaseFromSnapshot",
    # OpenSearch domains bill their nodes by the hour and have no stop; UpdateDomainConfig adds
    # or enlarges them. NAT gateways bill by the hour from creation.
    "es:CreateDomain",
    "es:CreateElasticsearchDomain",
    "es:UpdateDomainConfig",
    "es:UpdateElasticsearchDomainConfig",
    "ec2:CreateNatGateway",
    # Databases: new instances and clusters, replicas and restores, and the starts the halt's
    # stops would undo (AWS itself starts a stopped one after seven days: the guard stops it
    # again while the incident is open, lambda/guard/rds_databases.py).
    "rds:CreateDBInstance",
    "rds:CreateDBCluster",
    "rds:CreateDBInstanceReadReplica",
    # Every restore is a new instance or cluster: from a snapshot, to a point in time, from S3
    # (RestoreDBInstance/ClusterFromDBSnapshot/FromSnapshot, ToPointInTime, FromS3).
    "rds:RestoreDB*",
    "rds:CreateBlueGreenDeployment",  # a green copy of the database's instances
    "rds:StartDBInstance",
    "rds:StartDBCluster",
    # Redshift: new provisioned clusters and restores, the resume the halt's pause would undo
    # (lambda/guard/redshift_clusters.py), and Redshift Serverless workgroups (RPU-hours, never
    # counted or paused by the guard).
    "redshift:CreateCluster",
    "redshift:ResumeCluster",
    "redshift:RestoreFromClusterSnapshot",
    # A scheduled resume the halt disabled, enabled again or made anew, resumes the cluster by
    # itself; a resize or a change of node type or count adds nodes (the guard's own calls are
    # exempt: the SCPs' condition, and the launch block never binds the guard's role).
    "redshift:CreateScheduledAction",
    "redshift:ModifyScheduledAction",
    "redshift:ResizeCluster",
    "redshift:ModifyCluster",
    "redshift-serverless:CreateWorkgroup",
    "redshift-serverless:UpdateWorkgroup",  # more base or max RPUs
    # OpenSearch Serverless collections bill OCUs from creation.
    "aoss:CreateCollection",
    # Lambda: lifting the halt's throttle (a key lifting it each second would keep a function
    # running between the guard's runs), provisioned concurrency (billed while configured) and
    # new functions the throttle has not reached yet.
    "lambda:CreateFunction",
    "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency",
    "lambda:PutProvisionedConcurrencyConfig",
    # Calls that keep an endpoint or a database "in progress", where a halt must wait (and an
    # endpoint's capacity raised): called in a loop they would hold it billing for ever.
    "sagemaker:UpdateEndpointWeightsAndCapacities",
    "rds:ModifyDBInstance",
    "rds:ModifyDBCluster",
    "rds:RebootDBInstance",
    "rds:RebootDBCluster",
)
