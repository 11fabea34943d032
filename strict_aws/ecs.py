"""Strict ECS and its Application Auto Scaling: services run their tasks, tasks run until they
are stopped, old service ARNs cannot be tagged, and registering a scalable target moves the
service's desired count into its bounds.

moto (5.2.6) differs from AWS where the guard (lambda/guard/ecs_services.py, ecs_tasks.py)
relies on it:
- A service never runs anything: it reads runningCount 0 and pendingCount = desiredCount
  forever (unless MOTO_ECS_SERVICE_RUNNING), and UpdateService sets runningCount to the new
  desired count at once. AWS's service scheduler starts tasks until runningCount reaches
  desiredCount, and stops them when it is lowered (ECS API Reference, Service.runningCount
  "The number of tasks in the cluster that are in the RUNNING state"; UpdateService). Here
  runningCount moves from where it was to desiredCount after the layer's `pending_seconds`
  (tasks still starting read as pendingCount; a lowered count drains then).
- A service's ARN follows the serviceLongArnFormat account setting at every read; AWS fixes it
  when the service is created ("the ARN format of a resource is determined by the account
  setting at the time of resource creation"; old services keep service/<name> until migrated,
  ECS Developer Guide, "Migrate an Amazon ECS short service ARN to a long ARN").
- TagResource and UntagResource accept a service's short ARN. AWS: "If you try to tag a service
  with a short ARN, you receive an InvalidParameterException error" (ECS API Reference,
  TagResource); the message "Long arn format must be used for tagging operations" is quoted
  from the ECS API in kayac/ecspresso#297.
- DescribeTasks moves a running task one step towards STOPPED each time it is described (moto's
  ManagedState "manual" progression), and reports no `cpu` / `memory`. AWS keeps a task RUNNING
  until it stops or is stopped; Task.cpu and Task.memory are the task-level values "as expressed
  in a task definition" (ECS API Reference, Task), overridden by RunTask's overrides.
- DescribeServices and DescribeTasks take any number of ids; AWS takes "up to 10 services" and
  "up to 100 task IDs or full ARN entries" (API Reference). UNCERTAIN: AWS's refusal text for
  more; an InvalidParameterException is raised here.
- RegisterScalableTarget never touches the service. AWS: registering a new target changes "the
  resource's current capacity to a value that is inside of this range", and updating one
  "retrieves the current capacity of the resource. If it's below the minimum capacity or above
  the maximum capacity, Application Auto Scaling adjusts the capacity of the scalable target to
  place it within these bounds, even if you don't include the MinCapacity or MaxCapacity request
  parameters" (Application Auto Scaling API Reference, RegisterScalableTarget). Modelled for ECS
  services, whatever the SuspendedState (the reference names no exception).
Scaling policies and scheduled actions still never run (moto stores them only), so a suspended
target trivially does not scale; nothing the guard does depends on them running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, Service, Task

from strict_aws.active import current
from strict_aws.patches import Patches

if TYPE_CHECKING:
    from strict_aws.layer import StrictAWS

_COUNT = "_strict_count"  # on a Service: its running count moving towards desired
_ARN = "_strict_arn"  # on a Service: its ARN as created
LONG_ARN_REQUIRED = "Long arn format must be used for tagging operations"
MAX_SERVICES, MAX_TASKS = 10, 100

_ORIGINAL: dict[str, Any] = {
    "create_service": EC2ContainerServiceBackend.create_service,
    "update_service": EC2ContainerServiceBackend.update_service,
    "describe_services": EC2ContainerServiceBackend.describe_services,
    "describe_tasks": EC2ContainerServiceBackend.describe_tasks,
    "tag_resource": EC2ContainerServiceBackend.tag_resource,
    "untag_resource": EC2ContainerServiceBackend.untag_resource,
    "service_arn": Service.arn,
    "advance": Task.advance,
    "register_scalable_target": ApplicationAutoscalingBackend.register_scalable_target,
}


def install(patches: Patches) -> None:
    patches.set(Service, "running_count", property(_get_running, _set("running_count")))
    patches.set(Service, "pending_count", property(_get_pending, _set("pending_count")))
    patches.set(Service, "arn", property(_service_arn))
    patches.set(Task, "cpu", property(lambda task: _task_size(task, "cpu")))
    patches.set(Task, "memory", property(lambda task: _task_size(task, "memory")))
    patches.set(Task, "advance", _advance)
    backend = EC2ContainerServiceBackend
    patches.set(backend, "create_service", _create_service)
    patches.set(backend, "update_service", _update_service)
    patches.set(backend, "describe_services", _describe_services)
    patches.set(backend, "describe_tasks", _describe_tasks)
    patches.set(backend, "tag_resource", _tag_resource)
    patches.set(backend, "untag_resource", _untag_resource)
    patches.set(
        ApplicationAutoscalingBackend, "register_scalable_target", _register_scalable_target
    )


class _Scaling:
    """A service's running count going from `start` to `target` by `until` (layer clock).

    Tracked by the layer like an instance's pending state: `make_running([service ARN])` and
    the layer's uninstall settle it now."""

    def __init__(self, layer: StrictAWS, service: Service, start: int, target: int) -> None:
        self._layer = layer
        self._service = service
        self._start = start
        self._target = target
        self._until = layer.clock() + layer.pending_seconds

    @property
    def instance_id(self) -> str:
        return str(self._service.arn)

    def running(self) -> int:
        if self._layer.clock() < self._until:
            return self._start
        self.make_running()
        return self._target

    def pending(self) -> int:
        if self._layer.clock() < self._until:
            return max(self._target - self._start, 0)
        return 0

    def make_running(self) -> None:
        fields = self._service.__dict__
        if fields.get(_COUNT) is self:
            fields["running_count"] = self._target
            fields["pending_count"] = 0
            del fields[_COUNT]


def _get_running(self: Service) -> int:
    scaling = self.__dict__.get(_COUNT)
    return scaling.running() if scaling is not None else int(self.__dict__.get("running_count", 0))


def _get_pending(self: Service) -> int:
    scaling = self.__dict__.get(_COUNT)
    return scaling.pending() if scaling is not None else int(self.__dict__.get("pending_count", 0))


def _set(name: str) -> Any:
    def setter(self: Service, value: int) -> None:
        self.__dict__[name] = value

    return setter


def _scale(layer: StrictAWS, service: Service, start: int) -> None:
    scaling = _Scaling(layer, service, start, int(service.desired_count))
    service.__dict__[_COUNT] = scaling
    layer.track(scaling)


def _service_arn(self: Service) -> str:
    return str(self.__dict__.get(_ARN) or _ORIGINAL["service_arn"].fget(self))


def _create_service(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Service:
    service = _ORIGINAL["create_service"](self, *args, **kwargs)
    layer = current()
    if layer is not None:
        service.__dict__[_ARN] = _ORIGINAL["service_arn"].fget(service)  # fixed at creation
        _scale(layer, service, 0)
    return service


def _update_service(self: EC2ContainerServiceBackend, properties: dict[str, Any]) -> Service:
    layer = current()
    if layer is None or properties.get("desired_count") is None:
        return _ORIGINAL["update_service"](self, properties)
    before = self._get_service(properties.get("cluster", "default"), properties["service"])
    start = before.running_count
    service = _ORIGINAL["update_service"](self, properties)
    _scale(layer, service, start)
    return service


def _describe_services(
    self: EC2ContainerServiceBackend, cluster_str: str, service_names_or_arns: list[str]
) -> Any:
    if current() is not None and len(service_names_or_arns) > MAX_SERVICES:
        raise InvalidParameterException(f"services can have at most {MAX_SERVICES} items.")
    return _ORIGINAL["describe_services"](self, cluster_str, service_names_or_arns)


def _describe_tasks(self: EC2ContainerServiceBackend, cluster_str: str, tasks: list[str]) -> Any:
    if current() is not None and len(tasks) > MAX_TASKS:
        raise InvalidParameterException(f"tasks can have at most {MAX_TASKS} items.")
    return _ORIGINAL["describe_tasks"](self, cluster_str, tasks)


def _advance(self: Task) -> None:
    if current() is not None and self.desired_status == "RUNNING":
        return  # runs until it is stopped
    _ORIGINAL["advance"](self)


def _task_size(task: Task, field: str) -> str | None:
    if current() is None:
        return None
    overridden = (task.overrides or {}).get(field)
    if overridden:
        return str(overridden)
    definition = task._backend.describe_task_definition(task.task_definition_arn)
    value = getattr(definition, field, None)
    return None if value is None else str(value)


def _refuse_short_service_arn(backend: EC2ContainerServiceBackend, arn: str) -> None:
    parsed = backend._parse_resource_arn(arn)
    if parsed["service"] == "service" and "cluster_id" not in parsed:
        raise InvalidParameterException(LONG_ARN_REQUIRED)


def _tag_resource(self: EC2ContainerServiceBackend, arn: str, tags: dict[str, str]) -> None:
    if current() is not None:
        _refuse_short_service_arn(self, arn)
    _ORIGINAL["tag_resource"](self, arn, tags)


def _untag_resource(
    self: EC2ContainerServiceBackend, resource_arn: str, tag_keys: list[str]
) -> None:
    if current() is not None:
        _refuse_short_service_arn(self, resource_arn)
    _ORIGINAL["untag_resource"](self, resource_arn, tag_keys)


def _register_scalable_target(
    self: ApplicationAutoscalingBackend, *args: Any, **kwargs: Any
) -> Any:
    target = _ORIGINAL["register_scalable_target"](self, *args, **kwargs)
    if current() is None or target.service_namespace != "ecs":
        return target
    _, cluster, name = target.resource_id.split("/")
    service = self.ecs_backend._get_service(cluster, name)
    desired = bounded = int(service.desired_count)
    if target.min_capacity is not None:
        bounded = max(bounded, int(target.min_capacity))
    if target.max_capacity is not None:
        bounded = min(bounded, int(target.max_capacity))
    if bounded != desired:
        self.ecs_backend.update_service(
            {"cluster": cluster, "service": name, "desired_count": bounded}
        )
    return target
