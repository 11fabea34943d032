"""Amazon GameLift Servers managed EC2 fleets, which moto lacks entirely, for the strict layer.

moto 5 has no GameLift backend: in-process (mock_aws) it answers a GameLift request 404 "Not yet
implemented", and moto_server cannot route it (no backend claims the host or the signing name).
This module answers the few operations the guard uses (lambda/guard/gamelift_fleets.py) plus
CreateFleet to seed fleets, as the GameLift API Reference (botocore model gamelift 2015-10-01,
the same text as docs.aws.amazon.com/gamelift/latest/apireference/API_<Op>.html) documents them:

- protocol: JSON 1.1, target prefix `GameLift` (botocore sends that; the model also lists RPC v2
  CBOR, which moto's serializer answers alike). Requests are parsed and answered through moto's
  own BaseResponse with the botocore model, so IAM authentication (moto_server with
  INITIAL_NO_AUTH_ACTION_COUNT, the drill) checks `gamelift:<Operation>` as for any service;
  its refusal is answered as a JSON service's, 403 AccessDeniedException (moto writes XML).
- routing: in-process, BotocoreStubber.process_request hands requests for
  `gamelift.<region>.amazonaws.com` to GameLiftResponse; under moto_server (server.py), the
  DomainDispatcherApplication hands it every request signed for the `gamelift` service (the
  SigV4 credential scope) before moto looks for a backend it does not have.
- CreateFleet: "places it in NEW status" (API CreateFleet); the fleet then moves through
  DOWNLOADING, VALIDATING, BUILDING, ACTIVATING to ACTIVE (FleetAttributes.Status), here in five
  equal steps over the layer's pending_seconds. "NEW -- ... Desired instances is set to 1";
  MinSize 0 and MaxSize 1 are UpdateFleetCapacity's documented defaults. The first instance
  is PENDING until the fleet is ACTIVE. EC2 fleets only (ComputeType EC2, EC2InstanceType,
  a BuildId or ScriptId required, API CreateFleet "To create an EC2 fleet, provide these
  required parameters"); remote Locations, Anywhere and container fleets are not emulated.
- UpdateFleetCapacity: "The fleet must be in ACTIVE status" (InvalidFleetStatusException: "would
  cause a conflict with the current state of ... the fleet"); DesiredInstances "must fall
  between the minimum and maximum size limits" (InvalidRequestException, "One or more parameter
  values in the request are invalid"). Instance counts then follow the desired count: new
  instances PENDING for pending_seconds, then ACTIVE; removed ones TERMINATING for
  pending_seconds, then gone (EC2InstanceCounts: "Pending and terminating counts are non-zero
  when the fleet capacity is adjusting to a scaling event").
- StopFleetActions(AUTO_SCALING): the fleet's StoppedActions lists it (FleetAttributes
  StoppedActions: "A list of fleet activity that has been suspended using StopFleetActions");
  StartFleetActions removes it, and "If actions on the fleet location were never stopped, this
  operation will have no effect". No scaling policy is emulated, so either changes nothing else.
- DescribeFleetAttributes / DescribeFleetCapacity: every fleet without FleetIds (in pages,
  Limit and NextToken), or the named ones (ID or ARN), "returned only for fleets that currently
  exist"; Limit and NextToken are "ignored when the request specifies one or a list of fleet
  IDs". FleetCapacity carries the fleet's InstanceType and Location (its home Region). IDLE
  (active instances hosting no game session) equals ACTIVE: no game sessions are emulated.
- TagResource "succeeds even if the list includes tags that are already assigned" (overwrites);
  UntagResource "succeeds even if the list includes tags that aren't assigned"; an unknown ARN
  is NotFoundException ("The requested resource was not found").

UNCERTAIN, kept simple: AWS's error message texts (only the codes are documented); the page size
when Limit is not given (PAGE_SIZE here, so callers must follow NextToken); how many FleetIds a
request may name (documented only as "the error message contains the maximum allowed number":
not enforced); whether an omitted MinSize/MaxSize in UpdateFleetCapacity keeps the current value
(kept here) or resets to the documented default; DESIRED shows at once (AWS: "can take up to 1
minute"); fleet ARNs carry the account (the Service Authorization Reference's format; the API
Reference's example leaves it empty).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moto.core.botocore_stubber import BotocoreStubber
from moto.core.exceptions import ServiceException
from moto.core.request import normalize_request
from moto.core.responses import ActionResult, BaseResponse
from moto.moto_server.werkzeug_app import BackendRequest, DomainDispatcherApplication
from werkzeug.wrappers import Response

from strict_aws.active import current
from strict_aws.patches import Patches

if TYPE_CHECKING:
    from strict_aws.layer import StrictAWS

SIGNING_NAME = "gamelift"
URL = re.compile(r"https?://gamelift\.[^./]+\.amazonaws\.com(/|$)")
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
ACTIVATION = ("NEW", "DOWNLOADING", "VALIDATING", "BUILDING", "ACTIVATING")
ACTIVE = "ACTIVE"
AUTO_SCALING = "AUTO_SCALING"
PAGE_SIZE = 10  # UNCERTAIN: AWS's page size without Limit (module docstring)


class GameLiftError(ServiceException):
    """A GameLift error shape: its code is the model's exception name, serialized as AWS does."""


class NotFoundError(GameLiftError):
    code = "NotFoundException"


class InvalidRequestError(GameLiftError):
    code = "InvalidRequestException"


class InvalidFleetStatusError(GameLiftError):
    code = "InvalidFleetStatusException"


@dataclass
class _Instance:
    ready_at: float  # PENDING before, ACTIVE after
    leaving_at: float | None = None  # TERMINATING from then, for pending_seconds; then gone


@dataclass
class Fleet:
    fleet_id: str
    arn: str
    name: str
    region: str
    instance_type: str
    fleet_type: str
    build_id: str | None
    script_id: str | None
    created_at: float  # on the layer's clock
    created: datetime
    activate_s: float  # how long NEW ... ACTIVATING take in all
    desired: int = 1
    minimum: int = 0
    maximum: int = 1
    stopped_actions: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    instances: list[_Instance] = field(default_factory=list)
    activated: bool = False  # the layer's make_running() ends the activation now

    @property
    def instance_id(self) -> str:  # what the layer's make_running([names]) matches
        return self.fleet_id

    def make_running(self) -> None:
        self.activated = True
        for instance in self.instances:
            instance.ready_at = float("-inf")

    def status(self, now: float) -> str:
        elapsed = now - self.created_at
        if self.activated or elapsed >= self.activate_s:
            return ACTIVE
        step = self.activate_s / len(ACTIVATION)
        return ACTIVATION[min(int(elapsed // step), len(ACTIVATION) - 1)]

    def counts(self, now: float, pending_s: float) -> dict[str, int]:
        self.instances = [
            i for i in self.instances if i.leaving_at is None or now < i.leaving_at + pending_s
        ]
        leaving = sum(1 for i in self.instances if i.leaving_at is not None)
        pending = sum(1 for i in self.instances if i.leaving_at is None and now < i.ready_at)
        active = len(self.instances) - leaving - pending
        return {
            "DESIRED": self.desired,
            "MINIMUM": self.minimum,
            "MAXIMUM": self.maximum,
            "PENDING": pending,
            "ACTIVE": active,
            "IDLE": active,  # no game sessions are emulated
            "TERMINATING": leaving,
        }

    def follow_desired(self, now: float, pending_s: float) -> None:
        """Launch or terminate instances until as many live as DESIRED (newest leave first)."""
        live = [i for i in self.instances if i.leaving_at is None]
        for _ in range(self.desired - len(live)):
            self.instances.append(_Instance(ready_at=now + pending_s))
        for instance in sorted(live, key=lambda i: i.ready_at, reverse=True)[
            : max(0, len(live) - self.desired)
        ]:
            instance.leaving_at = now


class GameLiftState:
    """Every emulated fleet of one layer, by (account, region)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fleets: dict[tuple[str, str], dict[str, Fleet]] = {}

    def of(self, account: str, region: str) -> dict[str, Fleet]:
        return self.fleets.setdefault((account, region), {})


_STATES: weakref.WeakKeyDictionary[StrictAWS, GameLiftState] = weakref.WeakKeyDictionary()


def state_of(layer: StrictAWS) -> GameLiftState:
    if layer not in _STATES:
        _STATES[layer] = GameLiftState()
    return _STATES[layer]


class GameLiftResponse(BaseResponse):
    """The emulated operations; moto's BaseResponse parses (botocore model), authorizes and
    serializes them."""

    def __init__(self) -> None:
        super().__init__(service_name=SIGNING_NAME)
        self.automated_parameter_parsing = True

    def call_action(self) -> Any:
        """moto's IAM refusal is the query protocol's XML; a JSON service answers it as JSON,
        403 AccessDeniedException (the shape bedrock_runtime.py answers an SCP deny with)."""
        status, headers, body = super().call_action()
        text = body.decode() if isinstance(body, bytes) else str(body)
        if int(status) == 403 and text.lstrip().startswith("<"):
            found = re.search(r"<Message>(.*?)</Message>", text, re.DOTALL)
            message = found.group(1) if found else text
            headers = {
                **{k: v for k, v in headers.items() if k.lower() != "content-type"},
                "Content-Type": "application/x-amz-json-1.1",
                "x-amzn-ErrorType": "AccessDeniedException",
            }
            body = json.dumps({"__type": "AccessDeniedException", "Message": message})
        return status, headers, body

    # ---- helpers ------------------------------------------------------------------------------

    def _layer(self) -> StrictAWS:
        layer = current()
        if layer is None:
            raise InvalidRequestError("strict_aws: GameLift is emulated only under the layer")
        return layer

    def _fleets(self) -> dict[str, Fleet]:
        return state_of(self._layer()).of(self.current_account, self.region)

    def _find(self, fleets: dict[str, Fleet], id_or_arn: str) -> Fleet | None:
        fleet_id = id_or_arn.rsplit("/", 1)[-1]
        fleet = fleets.get(fleet_id)
        if fleet is None or (id_or_arn.startswith("arn:") and fleet.arn != id_or_arn):
            return None
        return fleet

    def _fleet(self, fleets: dict[str, Fleet], id_or_arn: str) -> Fleet:
        fleet = self._find(fleets, id_or_arn)
        if fleet is None:
            raise NotFoundError(f"Fleet {id_or_arn} not found.")
        return fleet

    def _location(self, fleet: Fleet) -> None:
        location = self.params.get("Location")
        if location not in (None, fleet.region):
            raise InvalidRequestError(
                f"Location {location} is not a location of fleet {fleet.fleet_id}."
            )

    def _page(self, items: list[Any], key: str) -> ActionResult:
        """Limit/NextToken over every fleet; both ignored when FleetIds names fleets."""
        if self.params.get("FleetIds"):
            return ActionResult({key: items})
        start = int(self.params.get("NextToken") or 0)
        size = int(self.params.get("Limit") or PAGE_SIZE)
        result: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            result["NextToken"] = str(start + size)
        return ActionResult(result)

    def _selected(self, fleets: dict[str, Fleet]) -> Iterator[Fleet]:
        named = self.params.get("FleetIds")
        if not named:
            yield from fleets.values()
            return
        for id_or_arn in named:  # only fleets that currently exist
            fleet = self._find(fleets, id_or_arn)
            if fleet is not None:
                yield fleet

    def _attributes(self, fleet: Fleet, now: float) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "FleetId": fleet.fleet_id,
            "FleetArn": fleet.arn,
            "FleetType": fleet.fleet_type,
            "InstanceType": fleet.instance_type,
            "Name": fleet.name,
            "CreationTime": fleet.created,
            "Status": fleet.status(now),
            "StoppedActions": list(fleet.stopped_actions),
            "ComputeType": "EC2",
        }
        if fleet.build_id:
            attributes["BuildId"] = fleet.build_id
        if fleet.script_id:
            attributes["ScriptId"] = fleet.script_id
        return attributes

    # ---- operations ---------------------------------------------------------------------------

    def create_fleet(self) -> ActionResult:
        layer = self._layer()
        params = self.params
        if params.get("ComputeType", "EC2") != "EC2":
            raise InvalidRequestError("strict_aws: only EC2 fleets are emulated (ComputeType EC2).")
        if params.get("Locations"):
            raise InvalidRequestError("strict_aws: remote fleet locations are not emulated.")
        if not params.get("EC2InstanceType"):
            raise InvalidRequestError("EC2InstanceType is required for an EC2 fleet.")
        if not (params.get("BuildId") or params.get("ScriptId")):
            raise InvalidRequestError("Either BuildId or ScriptId is required for an EC2 fleet.")
        fleet_id = f"fleet-{uuid.uuid4()}"
        now = layer.clock()
        fleet = Fleet(
            fleet_id=fleet_id,
            arn=f"arn:{self.partition}:gamelift:{self.region}:{self.current_account}:fleet/{fleet_id}",
            name=params["Name"],
            region=self.region,
            instance_type=params["EC2InstanceType"],
            fleet_type=params.get("FleetType", "ON_DEMAND"),
            build_id=params.get("BuildId"),
            script_id=params.get("ScriptId"),
            created_at=now,
            created=datetime.now(UTC),
            activate_s=layer.pending_seconds,
            tags={tag["Key"]: tag["Value"] for tag in params.get("Tags", [])},
        )
        # The first instance comes up as the fleet activates.
        fleet.instances.append(_Instance(ready_at=now + layer.pending_seconds))
        with state_of(layer).lock:
            self._fleets()[fleet_id] = fleet
        layer.track(fleet)
        location_state = {"Location": self.region, "Status": fleet.status(now)}
        return ActionResult(
            {
                "FleetAttributes": self._attributes(fleet, now),
                "LocationStates": [location_state],
            }
        )

    def list_fleets(self) -> ActionResult:
        fleets = self._fleets()
        with state_of(self._layer()).lock:
            ids = [
                fleet.fleet_id
                for fleet in fleets.values()
                if self.params.get("BuildId") in (None, fleet.build_id)
                and self.params.get("ScriptId") in (None, fleet.script_id)
            ]
        start = int(self.params.get("NextToken") or 0)
        size = int(self.params.get("Limit") or PAGE_SIZE)
        result: dict[str, Any] = {"FleetIds": ids[start : start + size]}
        if start + size < len(ids):
            result["NextToken"] = str(start + size)
        return ActionResult(result)

    def describe_fleet_attributes(self) -> ActionResult:
        layer = self._layer()
        now = layer.clock()
        with state_of(layer).lock:
            items = [self._attributes(f, now) for f in self._selected(self._fleets())]
        return self._page(items, "FleetAttributes")

    def describe_fleet_capacity(self) -> ActionResult:
        layer = self._layer()
        now = layer.clock()
        with state_of(layer).lock:
            items = [
                {
                    "FleetId": fleet.fleet_id,
                    "FleetArn": fleet.arn,
                    "InstanceType": fleet.instance_type,
                    "InstanceCounts": fleet.counts(now, layer.pending_seconds),
                    "Location": fleet.region,
                }
                for fleet in self._selected(self._fleets())
            ]
        return self._page(items, "FleetCapacity")

    def update_fleet_capacity(self) -> ActionResult:
        layer = self._layer()
        now = layer.clock()
        with state_of(layer).lock:
            fleet = self._fleet(self._fleets(), self.params["FleetId"])
            self._location(fleet)
            status = fleet.status(now)
            if status != ACTIVE:
                raise InvalidFleetStatusError(
                    f"Cannot update capacity of fleet {fleet.fleet_id}: its status is {status}, "
                    "not ACTIVE."
                )
            minimum = self.params.get("MinSize", fleet.minimum)
            maximum = self.params.get("MaxSize", fleet.maximum)
            desired = self.params.get("DesiredInstances", fleet.desired)
            if minimum > maximum or not minimum <= desired <= maximum:
                raise InvalidRequestError(
                    f"DesiredInstances ({desired}) must be between MinSize ({minimum}) and "
                    f"MaxSize ({maximum})."
                )
            fleet.minimum, fleet.maximum, fleet.desired = minimum, maximum, desired
            fleet.counts(now, layer.pending_seconds)  # let the gone ones go first
            fleet.follow_desired(now, layer.pending_seconds)
        return ActionResult({"FleetId": fleet.fleet_id, "FleetArn": fleet.arn})

    def stop_fleet_actions(self) -> ActionResult:
        with state_of(self._layer()).lock:
            fleet = self._fleet(self._fleets(), self.params["FleetId"])
            self._location(fleet)
            for action in self.params["Actions"]:
                if action not in fleet.stopped_actions:
                    fleet.stopped_actions.append(action)
        return ActionResult({"FleetId": fleet.fleet_id, "FleetArn": fleet.arn})

    def start_fleet_actions(self) -> ActionResult:
        with state_of(self._layer()).lock:
            fleet = self._fleet(self._fleets(), self.params["FleetId"])
            self._location(fleet)
            fleet.stopped_actions = [
                a for a in fleet.stopped_actions if a not in self.params["Actions"]
            ]
        return ActionResult({"FleetId": fleet.fleet_id, "FleetArn": fleet.arn})

    def _tagged(self) -> Fleet:
        arn = self.params["ResourceARN"]
        fleet = next((f for f in self._fleets().values() if f.arn == arn), None)
        if fleet is None:
            raise NotFoundError(f"Resource {arn} not found.")
        return fleet

    def tag_resource(self) -> ActionResult:
        with state_of(self._layer()).lock:
            fleet = self._tagged()
            fleet.tags.update({tag["Key"]: tag["Value"] for tag in self.params["Tags"]})
        return ActionResult({})

    def untag_resource(self) -> ActionResult:
        with state_of(self._layer()).lock:
            fleet = self._tagged()
            for key in self.params["TagKeys"]:
                fleet.tags.pop(key, None)
        return ActionResult({})

    def list_tags_for_resource(self) -> ActionResult:
        with state_of(self._layer()).lock:
            tags = [{"Key": k, "Value": v} for k, v in self._tagged().tags.items()]
        return ActionResult({"Tags": tags})


# ---- routing --------------------------------------------------------------------------------


def install(patches: Patches) -> None:
    # Chained on whatever is installed now (pricing.py answers the Price List the same way).
    previous_process = BotocoreStubber.process_request
    previous_call = DomainDispatcherApplication.__call__

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        """In-process (mock_aws): GameLift's endpoint is answered here."""
        if current() is not None and URL.match(str(request.url)):
            return GameLiftResponse.dispatch(normalize_request(request))
        return previous_process(self, request)

    def dispatch(self: DomainDispatcherApplication, environ: dict[str, Any], start: Any) -> Any:
        """moto_server: a request signed for `gamelift` is answered here (moto has no backend
        to route it to)."""
        scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if current() is not None and scope and scope.group("service") == SIGNING_NAME:
            status, headers, body = GameLiftResponse.dispatch(BackendRequest(environ))
            headers = {k: str(v) for k, v in headers.items() if k != "status"}
            return Response(body, status=status, headers=headers)(environ, start)
        return previous_call(self, environ, start)

    patches.set(BotocoreStubber, "process_request", process_request)
    patches.set(DomainDispatcherApplication, "__call__", dispatch)
