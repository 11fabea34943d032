"""Strict Redshift: a pause only from `available` and only with automated snapshots on, pausing
and resuming take time, clusters carry their namespace ARN, and scheduled actions exist.

moto pauses a cluster in any state (even paused), with automated snapshots off, and at once;
resumes one in any state at once; stores AutomatedSnapshotRetentionPeriod 0 as 1 (`int(x) if x
else 1`); answers no ClusterNamespaceArn; and has no scheduled actions (NotImplementedError).
AWS:
- "You can't pause the following types of clusters: ... Clusters that are not active, for
  example, a cluster that is currently modifying. ... Clusters that have automated snapshots
  turned off" (Redshift Management Guide, "Pausing and resuming clusters"); PauseCluster answers
  InvalidClusterState "The specified cluster is not in the available state." (API Reference,
  PauseCluster, Errors: the fault's documented text; AWS's exact message is not published) and,
  for snapshots off, UnsupportedOperation "The requested operation isn't supported." (the one
  other refusal PauseCluster lists; UNCERTAIN which of the two AWS answers there);
- "When you pause a cluster, Amazon Redshift ... puts the cluster in a pausing state" (same
  page), then `paused`; a resume reads `resuming`, then `available`: each for the layer's
  `pending_seconds` by its clock (sagemaker_timed.move); ResumeCluster of a cluster not paused
  is refused InvalidClusterState (the same fault, API Reference ResumeCluster);
- CreateCluster keeps a retention period of 0 ("If this option is set to 0, automated snapshots
  are disabled", API Reference CreateCluster AutomatedSnapshotRetentionPeriod);
- every cluster has a namespace, arn:PARTITION:redshift:REGION:ACCOUNT:namespace:UUID
  (Cluster.ClusterNamespaceArn, API Reference; steampipe's aws_redshift_cluster table shows one
  for a plain cluster, turbot/steampipe-plugin-aws#58);
- CreateScheduledAction, DescribeScheduledActions (TargetActionType, Active, Filters
  cluster-identifier) and ModifyScheduledAction (Enable) as in the API Reference; a name taken
  is refused ScheduledActionAlreadyExists, an unknown one ScheduledActionNotFound. The actions
  never fire here.
Not emulated: HSM clusters (moto ignores HsmConfigurationIdentifier), ResumeCluster's
InsufficientClusterCapacity (tests inject it), Multi-AZ.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.responses import ActionResult
from moto.redshift.exceptions import ClusterNotFoundError, RedshiftClientError
from moto.redshift.models import Cluster, RedshiftBackend
from moto.redshift.responses import RedshiftResponse

from strict_aws.patches import Patches
from strict_aws.sagemaker_timed import move, settle

NOT_AVAILABLE = "The specified cluster is not in the available state."
UNSUPPORTED = "The requested operation isn't supported."
_ACTIONS = "_strict_scheduled_actions"  # on a backend: name -> scheduled action (dict)

_ORIGINAL: dict[str, Any] = {
    "init": Cluster.__init__,
    "describe_clusters": RedshiftBackend.describe_clusters,
}


def install(patches: Patches) -> None:
    patches.set(Cluster, "__init__", _init)
    patches.set(RedshiftBackend, "describe_clusters", _describe_clusters)
    patches.set(RedshiftBackend, "pause_cluster", _pause_cluster)
    patches.set(RedshiftBackend, "resume_cluster", _resume_cluster)
    patches.set(RedshiftResponse, "create_scheduled_action", _create_scheduled_action)
    patches.set(RedshiftResponse, "describe_scheduled_actions", _describe_scheduled_actions)
    patches.set(RedshiftResponse, "modify_scheduled_action", _modify_scheduled_action)


def _init(self: Cluster, redshift_backend: Any, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL["init"](self, redshift_backend, *args, **kwargs)
    if kwargs.get("automated_snapshot_retention_period") == 0:
        self.automated_snapshot_retention_period = 0
    self.cluster_namespace_arn = (
        f"arn:aws:redshift:{self.region}:{redshift_backend.account_id}:namespace:{uuid.uuid4()}"
    )


def _describe_clusters(self: RedshiftBackend, *args: Any, **kwargs: Any) -> Any:
    settle()
    return _ORIGINAL["describe_clusters"](self, *args, **kwargs)


def _cluster(backend: RedshiftBackend, cluster_id: str) -> Cluster:
    settle()
    if cluster_id not in backend.clusters:
        raise ClusterNotFoundError(cluster_identifier=cluster_id)
    return backend.clusters[cluster_id]


def _pause_cluster(self: RedshiftBackend, cluster_id: str) -> Cluster:
    cluster = _cluster(self, cluster_id)
    if cluster.status != "available":
        raise RedshiftClientError("InvalidClusterState", NOT_AVAILABLE)
    if cluster.automated_snapshot_retention_period == 0:
        raise RedshiftClientError("UnsupportedOperation", UNSUPPORTED)
    move(cluster, "status", through="pausing", to="paused", name=cluster_id)
    return cluster


def _resume_cluster(self: RedshiftBackend, cluster_id: str) -> Cluster:
    cluster = _cluster(self, cluster_id)
    if cluster.status != "paused":
        raise RedshiftClientError("InvalidClusterState", NOT_AVAILABLE)
    move(cluster, "status", through="resuming", to="available", name=cluster_id)
    return cluster


def _actions(response: RedshiftResponse) -> dict[str, dict[str, Any]]:
    actions: dict[str, dict[str, Any]] = response.redshift_backend.__dict__.setdefault(_ACTIONS, {})
    return actions


def _create_scheduled_action(self: RedshiftResponse) -> ActionResult:
    actions, name = _actions(self), self._get_param("ScheduledActionName")
    if name in actions:
        raise RedshiftClientError(
            "ScheduledActionAlreadyExists", f"Scheduled action {name} already exists."
        )
    target = self._get_param("TargetAction")
    cluster = next(iter(target.values()))["ClusterIdentifier"]
    _cluster(self.redshift_backend, cluster)
    actions[name] = {
        "ScheduledActionName": name,
        "TargetAction": target,
        "Schedule": self._get_param("Schedule"),
        "IamRole": self._get_param("IamRole"),
        "State": "ACTIVE" if self._get_bool_param("Enable", True) else "DISABLED",
    }
    return ActionResult(actions[name])


def _describe_scheduled_actions(self: RedshiftResponse) -> ActionResult:
    kind, active = self._get_param("TargetActionType"), self._get_param("Active")
    clusters = {
        value
        for found in self._get_param("Filters") or []
        if found["Name"] == "cluster-identifier"
        for value in found["Values"]
    }
    chosen = [
        action
        for action in _actions(self).values()
        if (kind is None or kind in action["TargetAction"])
        and (active is None or (action["State"] == "ACTIVE") == _true(active))
        and (
            not clusters
            or next(iter(action["TargetAction"].values()))["ClusterIdentifier"] in clusters
        )
    ]
    return ActionResult({"ScheduledActions": chosen})


def _modify_scheduled_action(self: RedshiftResponse) -> ActionResult:
    actions, name = _actions(self), self._get_param("ScheduledActionName")
    if name not in actions:
        raise RedshiftClientError("ScheduledActionNotFound", f"Scheduled action {name} not found.")
    enable = self._get_param("Enable")
    if enable is not None:
        actions[name]["State"] = "ACTIVE" if _true(enable) else "DISABLED"
    return ActionResult(actions[name])


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
