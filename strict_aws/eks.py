"""Strict EKS: a node group's scaling configuration is its own and must stay ordered.

moto's UpdateNodegroupConfig merges the new scalingConfig into the node group's dict unchecked,
and a node group created without one shares moto's module-level default dict, so one update
resizes every such node group. AWS:
- minSize <= desiredSize <= maxSize, each refusal an InvalidParameterException: "Minimum
  capacity 2 can't be greater than desired size 1" (terraform-aws-modules/terraform-aws-eks#2508,
  #3306; wandb/terraform-aws-wandb#201) and "desiredSize can't be greater than maxSize"
  (ministryofjustice/cloud-platform-infrastructure#4595). maxSize >= 1 needs no check here:
  botocore refuses 0 before sending (EKS API Reference, NodegroupScalingConfig: minimum 1);
- each node group has its own scaling configuration (the default one is copied at create);
- TagResource, UntagResource and ListTagsForResource take a node group's ARN too (moto: clusters
  only, "It does not tag a managed node group"): the Service Authorization Reference lists
  `nodegroup` among the resource types of eks:TagResource and eks:UntagResource, and
  DescribeNodegroup returns the node group's `tags` (EKS API Reference, Nodegroup). UntagResource
  removes every key named (`tagKeys`, a list in the query string, EKS API Reference,
  UntagResource; moto reads only the first).
Not modelled (known): the update is asynchronous on AWS (the node group reads UPDATING and
another update is refused meanwhile); moto answers Successful at once.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import EmptyResult
from moto.eks.exceptions import InvalidParameterException
from moto.eks.models import EKSBackend, Nodegroup
from moto.eks.responses import EKSResponse

from strict_aws.active import current
from strict_aws.patches import Patches

_ORIGINAL: dict[str, Any] = {
    "init": Nodegroup.__init__,
    "update": EKSBackend.update_nodegroup_config,
    "tag": EKSBackend.tag_resource,
    "untag": EKSBackend.untag_resource,
    "tags": EKSBackend.list_tags_for_resource,
    "untag_response": EKSResponse.untag_resource,
}


def install(patches: Patches) -> None:
    patches.set(Nodegroup, "__init__", _init)
    patches.set(EKSBackend, "update_nodegroup_config", _update_nodegroup_config)
    patches.set(EKSBackend, "tag_resource", _tag_resource)
    patches.set(EKSBackend, "untag_resource", _untag_resource)
    patches.set(EKSBackend, "list_tags_for_resource", _list_tags_for_resource)
    patches.set(EKSResponse, "untag_resource", _untag_response)


def _untag_response(self: EKSResponse) -> Any:
    if current() is None:
        return _ORIGINAL["untag_response"](self)
    keys = self.querystring.get("tagKeys", [])
    self.eks_backend.untag_resource(self._extract_arn_from_path(), list(keys))
    return EmptyResult()


def _nodegroup_of(backend: EKSBackend, arn: str) -> Nodegroup | None:
    if current() is None:
        return None
    for cluster in backend.clusters.values():
        for nodegroup in cluster.nodegroups.values():
            if nodegroup.arn == arn:
                return nodegroup
    return None


def _tag_resource(self: EKSBackend, resource_arn: str, tags: dict[str, str]) -> None:
    nodegroup = _nodegroup_of(self, resource_arn)
    if nodegroup is None:
        _ORIGINAL["tag"](self, resource_arn, tags)
        return
    nodegroup.tags.update(tags)


def _untag_resource(self: EKSBackend, resource_arn: str, tag_keys: list[str]) -> None:
    nodegroup = _nodegroup_of(self, resource_arn)
    if nodegroup is None:
        _ORIGINAL["untag"](self, resource_arn, tag_keys)
        return
    for key in [tag_keys] if isinstance(tag_keys, str) else tag_keys:
        nodegroup.tags.pop(key, None)


def _list_tags_for_resource(self: EKSBackend, resource_arn: str) -> dict[str, str]:
    nodegroup = _nodegroup_of(self, resource_arn)
    if nodegroup is None:
        return _ORIGINAL["tags"](self, resource_arn)  # type: ignore[no-any-return]
    return dict(nodegroup.tags)


def _init(self: Nodegroup, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL["init"](self, *args, **kwargs)
    if current() is not None:
        self.scaling_config = dict(self.scaling_config)  # not moto's shared default
        self.tags = dict(self.tags or {})


def _refusal(scaling: dict[str, int]) -> str | None:
    low, desired, high = scaling["minSize"], scaling["desiredSize"], scaling["maxSize"]
    if low > desired:
        return f"Minimum capacity {low} can't be greater than desired size {desired}"
    if desired > high:
        return "desiredSize can't be greater than maxSize"
    return None


def _update_nodegroup_config(
    self: EKSBackend, cluster_name: str, nodegroup_name: str, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    scaling = kwargs.get("scaling_config")
    if current() is not None and scaling:
        group = self.clusters.get(cluster_name)
        nodegroup = group.nodegroups.get(nodegroup_name) if group is not None else None
        if nodegroup is not None:  # moto's own not-found errors otherwise
            merged = {**nodegroup.scaling_config, **scaling}
            refusal = _refusal(merged)
            if refusal is not None:
                raise InvalidParameterException(
                    message=refusal, clusterName=cluster_name, nodegroupName=nodegroup_name
                )
    return _ORIGINAL["update"](  # type: ignore[no-any-return]
        self, cluster_name, nodegroup_name, *args, **kwargs
    )
