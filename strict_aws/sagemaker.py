"""Strict SageMaker: notebook instances pend and stop over time, refuse wrong-state calls, and
AddTags overwrites.

moto makes a notebook `InService` the moment it is created or started and `Stopped` the moment it
is stopped, accepts a stop or a start in any status, and AddTags appends a second tag with the
same key. AWS:
- CreateNotebookInstance and StartNotebookInstance leave the notebook `Pending`, then `InService`;
  StopNotebookInstance leaves it `Stopping`, then `Stopped` (each for the layer's
  `pending_seconds`, by its clock);
- StopNotebookInstance is refused unless the notebook is `InService`, StartNotebookInstance unless
  it is `Stopped` or `Failed` (ValidationException);
- AddTags overwrites the value of a key the resource already has.
The status is computed lazily from the clock, so DescribeNotebookInstance and
ListNotebookInstances (StatusEquals, SortBy=Status) read it as it is now; the layer settles it on
uninstall. Each behaviour names its source beside its code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeSagemakerNotebookInstance, SageMakerModelBackend

from strict_aws.active import current
from strict_aws.patches import Patches

if TYPE_CHECKING:
    from strict_aws.layer import StrictAWS

# Where a notebook keeps its status moving over time (beside moto's plain `status` in __dict__).
_TRANSITION = "_strict_transition"

# The statuses each call starts from. SageMaker API Reference, NotebookInstanceStatus: Pending,
# InService, Stopping, Stopped, Failed, Deleting, Updating. cloud-custodian's sagemaker.py stops
# notebooks from InService and starts them from Stopped (same origin states as the messages below).
_STOPPABLE = ("InService",)
_STARTABLE = ("Stopped", "Failed")

_ORIGINAL: dict[str, Any] = {
    "start": FakeSagemakerNotebookInstance.start,
    "stop": FakeSagemakerNotebookInstance.stop,
    "start_notebook_instance": SageMakerModelBackend.start_notebook_instance,
    "stop_notebook_instance": SageMakerModelBackend.stop_notebook_instance,
    "add_tags": SageMakerModelBackend.add_tags,
}


def install(patches: Patches) -> None:
    patches.set(FakeSagemakerNotebookInstance, "status", property(_get_status, _set_status))
    patches.set(FakeSagemakerNotebookInstance, "start", _notebook_start)
    patches.set(FakeSagemakerNotebookInstance, "stop", _notebook_stop)
    patches.set(SageMakerModelBackend, "start_notebook_instance", _start_notebook_instance)
    patches.set(SageMakerModelBackend, "stop_notebook_instance", _stop_notebook_instance)
    patches.set(SageMakerModelBackend, "add_tags", _add_tags)


class _Transition:
    """A notebook reading `through` until `until` by the layer's clock, then `to`.

    Tracked by the layer like an EC2 instance's lazy state: `make_running()` (the layer's
    `make_running([notebook name])`, and its uninstall) ends it now.
    """

    def __init__(
        self, layer: StrictAWS, notebook: FakeSagemakerNotebookInstance, through: str, to: str
    ) -> None:
        self._layer = layer
        self._notebook = notebook
        self.through = through
        self._to = to
        self._until = layer.clock() + layer.pending_seconds

    @property
    def instance_id(self) -> str:
        return str(self._notebook.notebook_instance_name)

    def resolve(self) -> str:
        if self._layer.clock() < self._until:
            return self.through
        self.make_running()
        return self._to

    def make_running(self) -> None:
        """Settle now, unless a later transition (or a plain status) replaced this one."""
        fields = self._notebook.__dict__
        if fields.get(_TRANSITION) is self:
            fields["status"] = self._to
            del fields[_TRANSITION]


def _get_status(self: FakeSagemakerNotebookInstance) -> str | None:
    transition = self.__dict__.get(_TRANSITION)
    if transition is not None:
        return str(transition.resolve())
    return self.__dict__.get("status")


def _set_status(self: FakeSagemakerNotebookInstance, value: str) -> None:
    self.__dict__["status"] = value
    self.__dict__.pop(_TRANSITION, None)


def _move(layer: StrictAWS, notebook: FakeSagemakerNotebookInstance, through: str, to: str) -> None:
    _set_status(notebook, through)
    transition = _Transition(layer, notebook, through, to)
    notebook.__dict__[_TRANSITION] = transition
    layer.track(transition)


def _notebook_start(self: FakeSagemakerNotebookInstance) -> None:
    # Called by moto's __init__ (CreateNotebookInstance) and by StartNotebookInstance.
    # SageMaker API Reference, StartNotebookInstance: "After configuring the notebook instance,
    # SageMaker sets the notebook instance status to InService"; CreateNotebookInstance likewise
    # answers while the notebook is `Pending` (botocore's NotebookInstanceInService waiter polls
    # DescribeNotebookInstance until InService; aws/amazon-sagemaker-examples#207 and #1094 show
    # notebooks reading Pending).
    layer = current()
    if layer is None:
        _ORIGINAL["start"](self)
        return
    _move(layer, self, "Pending", "InService")


def _notebook_stop(self: FakeSagemakerNotebookInstance) -> None:
    # SageMaker API Reference, NotebookInstanceStatus has `Stopping`; botocore's
    # NotebookInstanceStopped waiter polls until `Stopped`; aws/amazon-sagemaker-examples#1798
    # shows a notebook reading Stopping. No source gives how long Stopping lasts: it takes the
    # layer's pending_seconds, like Pending (a modelling choice, not a documented duration).
    layer = current()
    if layer is None:
        _ORIGINAL["stop"](self)
        return
    _move(layer, self, "Stopping", "Stopped")


def _refusal(notebook: FakeSagemakerNotebookInstance, allowed: tuple[str, ...], target: str) -> str:
    return (
        f"Status ({notebook.status}) not in ([{', '.join(allowed)}]). Unable to transition to "
        f"({target}) for Notebook Instance ({notebook.arn})"
    )


def _stop_notebook_instance(self: SageMakerModelBackend, notebook_instance_name: str) -> None:
    if current() is None:
        _ORIGINAL["stop_notebook_instance"](self, notebook_instance_name)
        return
    notebook = self.get_notebook_instance(notebook_instance_name)
    if notebook.status not in _STOPPABLE:
        # AWS's text, quoted in hashicorp/terraform-provider-aws#16767 (Failed),
        # aws/amazon-sagemaker-examples#1798 (Stopping) and #1094 (Pending), and awslabs/mlspace's
        # test_terminate_resources.py (Stopped); all end with "." after the ARN.
        raise ValidationError(message=_refusal(notebook, _STOPPABLE, "Stopping") + ".")
    notebook.stop()


def _start_notebook_instance(self: SageMakerModelBackend, notebook_instance_name: str) -> None:
    if current() is None:
        _ORIGINAL["start_notebook_instance"](self, notebook_instance_name)
        return
    notebook = self.get_notebook_instance(notebook_instance_name)
    if notebook.status not in _STARTABLE:
        # AWS's text for a start from Stopping, quoted in aws/amazon-sagemaker-examples#1094 (no
        # "." after the ARN there). UNCERTAIN: the same text for Pending and InService is inferred
        # from that one quote (and the stop refusal's pattern), not seen.
        raise ValidationError(message=_refusal(notebook, _STARTABLE, "Pending"))
    notebook.start()


def _add_tags(self: SageMakerModelBackend, arn: str, tags: list[dict[str, str]]) -> Any:
    # SageMaker API Reference, AddTags: "Adds or overwrites one or more tags for the specified
    # SageMaker resource" (moto appends a second tag with the same key).
    if current() is None:
        return _ORIGINAL["add_tags"](self, arn, tags)
    resource = self._get_resource_from_arn(arn)
    if resource.tags is None:  # moto's tuning and transform jobs created without tags
        resource.tags = []
    for tag in tags:
        for index, existing in enumerate(resource.tags):
            if existing["Key"] == tag["Key"]:
                resource.tags[index] = dict(tag)
                break
        else:
            resource.tags.append(dict(tag))
    return resource.tags
