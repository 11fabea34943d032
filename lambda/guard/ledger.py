"""The incident's own record (issue 22 item 7): what a trip changed, written by the guard where
nobody else can write, before the change; restore undoes only what it lists.

Tags (`runawaytrain:*`) stay as the visible marker on what a trip changed, but anyone allowed to
tag can write them: tagging another stopped instance with the incident id, or raising an ECS
service's recorded desired count, would make restore start or scale what its owner may not. So
every change is also recorded in SSM Parameter Store under `ROOT/<incident>/<kind>/...`, which
the guard-protection SCP denies writing and deleting to all but the exempt principals
(runawaytrain_stack/scp.py denies ssm:PutParameter, DeleteParameter, DeleteParameters on
`parameter/runawaytrain/*`, every Region). Restore reads that record and acts on a tagged
resource only where the record vouches for it (`Record.vouch`); the tagged rest is left alone
and the report says "tagged with the incident but not in its record".

What is recorded, per (kind, Region) batch, before the batch is changed:
- `items`: the ids the batch will change (instance ids, Auto Scaling group names, a service
  kind's names and ARNs, IAM principals as `user/<name>`, `role/<name>`);
- `values`: the `runawaytrain:*` tags the guard itself writes on them (prior values: an ECS
  service's desired count, a Lambda function's reservation, an Auto Scaling group's suspended
  processes, the access keys a lockout deactivated). Where they are known before the change
  (Auto Scaling, IAM: `Ledger.write(..., values)`) they go with the items. A service module
  reads its prior values itself, item by item, just before its change, so its values are
  captured from its own tag writes as it makes them (`Capture`, a pass-through around its
  client) and written once its batch is done. Spot/EC2 fleets
  and warm pools (a few per Region) are recorded eagerly instead: each tag write's values go
  to the record first, and a refused record fails that tag write (`Capture(write=...)`).
  Restore takes prior values from the record, never from the tags: a tag that disagrees is
  reported and the record's value used. A resource in the record whose values are missing (its
  batch's values write failed, or a Lambda timeout fell between its change and that write) is
  left as the trip left it, and the report names it and what its tags say, to be put back by
  hand: restoring from the tags would restore whatever an insider wrote there (a desired count
  of 50). Kinds with a few items per Region (fleets, warm pools, EKS node groups: `EAGER_RECORD`)
  record each item's values before its change instead, so only their own refused writes leave
  them unchanged; the others (ECS services, Lambda functions, ... : hundreds a Region) would pay
  one PutParameter per item, at a rate AWS does not publish (below), on the halt's path.

Speed (the halt is what stands between the trip and the money stopping): one write per (kind,
Region) batch, never one per item, each in that Region's own Parameter Store, so Regions never
wait for one another: PutParameter is throttled per account and Region, at a rate AWS does not
publish ("3 TPS with standard throughput and max 10 TPS with higher throughput", AWS Support as
quoted in github-aws-runners/terraform-aws-github-runner#2944; "the limit for PutParameter API
call is not currently disclosed", aws-ia/terraform-aws-control_tower_account_factory#271);
the Parameter Store throughput setting covers "GetParameter, GetParameters, and PutParameter"
(SSM User Guide, "Changing Parameter Store throughput"): restore's GetParametersByPath is not in
that shared budget, and is throttled on its own (re:Post, "How do I prevent ThrottlingException
errors ... Parameter Store?" lists it apart). A batch larger than one value is split: a standard
parameter holds 4 KB (advanced 8 KB, at a charge) and a Region holds 10,000 standard parameters
(SSM User Guide, "Managing parameter tiers"): about 180 instance ids a parameter, so 1,000
instances over 17 Regions are 17 writes side by side, and 1,000 in one Region six in a row.
The IAM lockout and launch block are recorded in the home Region. Names:
`ROOT/<incident>/<kind>/<token>-<n>`, the token time-ordered, so a later run of the same open
incident adds parameters and never overwrites (values merge in name order, a later write of a
key winning).

Tier: `Intelligent-Tiering` (TIER), never `Standard`: anyone who may put parameters on any other
path can fill the Region's 10,000 standard ones, and every standard write would then fail with
ParameterLimitExceeded, so a trip would change nothing. With Intelligent-Tiering "Parameter
Store evaluates each request": a parameter is standard unless it cannot be, and once "you reach
the 10,000 parameter quota in the standard tier, Intelligent-Tiering automatically upgrades you
to the advanced parameter tier" (SSM User Guide, "Specifying a default parameter tier"; an
advanced parameter is charged per month, a few cents). strict_aws/ssm.py makes moto refuse a
standard parameter past the quota.

Record first: a write that fails leaves its batch unchanged (said in the report and the mail);
a crash after the write and before the change leaves a record of a change that never happened,
which restore tolerates as it tolerates such a tag (restore.py). Restore deletes the incident's
record once it left nothing to undo (nothing still stopped, nothing failed).

An incident with no record anywhere (one tripped before this record existed, or an id nobody
tripped: anyone can tag an instance with a made-up, newer incident id for `restore` to pick):
restore refuses to start, scale or unlock anything, names what carries its tags, and says how
to proceed (undo by hand, after checking each). Falling back to tags would leave the hole open
for exactly the incidents an insider can make up.

IAM: ssm:PutParameter, ssm:GetParametersByPath, ssm:DeleteParameters on
`parameter/runawaytrain/guard/incidents/*` in every Region (runawaytrain_stack/permissions.py).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.incident import INCIDENT_TAG, TAG_PREFIX
from guard.logs import get_logger

LOG = get_logger("ledger")

ROOT = "/runawaytrain/guard/incidents"
# A standard parameter's value: at most 4 KB (SSM API Reference, PutParameter "Value"). Kept a
# little under it for the JSON around the ids.
VALUE_MAX = 4000
# Standard while the Region has room, advanced once it is full (module docstring).
TIER = "Intelligent-Tiering"
PAGE_SIZE = 10  # GetParametersByPath MaxResults: at most 10
DELETE_BATCH = 10  # DeleteParameters Names: at most 10
INCIDENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")  # what may stand in a parameter name
# Kinds of the EC2 halt and the IAM steps; the other services use their module's NAME.
INSTANCES = "ec2-instances"
AUTO_SCALING = "auto-scaling-groups"
PRINCIPALS = "iam-lockout"
LAUNCH_BLOCKS = "iam-launch-block"
FLEETS = "ec2-fleets"
WARM_POOLS = "warm-pools"
ITEMS, VALUES = "items", "values"  # a parameter's value: {"items": [id], "values": {id: tags}}
_SEQUENCE = itertools.count()
_SEQUENCE_LOCK = threading.Lock()


class LedgerError(Exception):
    """The record could not be read: restore then changes nothing it would need it for."""


def valid_incident(incident: str) -> bool:
    return bool(INCIDENT_ID.match(incident))


def token() -> str:
    """Time-ordered and unique within the process: a later write sorts after an earlier one."""
    with _SEQUENCE_LOCK:
        sequence = next(_SEQUENCE)
    return f"{time.time_ns():016x}{sequence:06x}"


def chunks_of(
    items: Iterable[str], values: Mapping[str, Mapping[str, str]], limit: int = VALUE_MAX
) -> list[dict[str, Any]]:
    """`{"items": [id, ...], "values": {id: {tag: value}}}` documents, split so that each one's
    JSON fits `limit` (an id costs its length and 3 characters: about 180 instance ids)."""
    chunks: list[dict[str, Any]] = []
    size = limit  # no chunk yet
    entries = [(ITEMS, key, None) for key in dict.fromkeys(items)]
    entries += [(VALUES, key, dict(value)) for key, value in values.items()]
    for part, key, value in entries:
        cost = len(json.dumps(key)) + 1 + (len(json.dumps(value)) + 1 if value is not None else 0)
        if size + cost > limit:
            chunks.append({ITEMS: [], VALUES: {}})
            size = len('{"items":[],"values":{}}')
        if part == ITEMS:
            chunks[-1][ITEMS].append(key)
        else:
            chunks[-1][VALUES][key] = value
        size += cost
    return chunks


class Ledger:
    """Writes one incident's record: `ssm_for(region)` is that Region's client."""

    def __init__(self, ssm_for: Callable[[str], Any], incident: str, home_region: str) -> None:
        if not valid_incident(incident):
            raise ValueError(f"not an incident id: {incident!r}")
        self.ssm_for = ssm_for
        self.incident = incident
        self.home_region = home_region  # where the IAM steps' record goes
        self.writes = 0  # PutParameter calls made (bench, tests)

    def write(
        self,
        region: str,
        kind: str,
        items: Iterable[str],
        values: Mapping[str, Mapping[str, str]] | None = None,
    ) -> str | None:
        """Record `items` (and their `values`) before changing them; returns the error, or
        None. Nothing to record: nothing written."""
        chunks = chunks_of(items, values or {})
        if not chunks:
            return None
        ssm = self.ssm_for(region)
        stem = f"{ROOT}/{self.incident}/{kind}/{token()}"
        for number, chunk in enumerate(chunks):
            try:
                ssm.put_parameter(
                    Name=f"{stem}-{number}",
                    Value=json.dumps(chunk, separators=(",", ":")),
                    Type="String",
                    Tier=TIER,
                    Overwrite=False,
                )
                self.writes += 1
            except (ClientError, BotoCoreError) as error:
                message = describe_error(error)
                LOG.error(
                    "record_not_written",
                    extra={"region": region, "kind": kind, "error": message},
                )
                return message
        return None


@dataclass
class Record:
    """One kind's record in one Region, as restore reads it. `values_expected`: the kind records
    prior values (every kind but the instances, whose tags hold none), so one without them is
    refused rather than restored from its tags."""

    kind: str
    items: set[str] = field(default_factory=set)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    values_expected: bool = True
    refused: dict[str, str] = field(default_factory=dict)  # id -> why restore left it alone
    warnings: dict[str, str] = field(default_factory=dict)  # id -> a tag that disagreed

    def add(self, document: Mapping[str, Any]) -> None:
        """One parameter's `{"items": [...], "values": {...}}` (chunks_of), later ones last."""
        self.items.update(str(key) for key in document.get(ITEMS, []))
        for key, recorded in document.get(VALUES, {}).items():
            self.values.setdefault(str(key), {}).update(
                {str(k): str(v) for k, v in recorded.items()}
            )

    def holds(self, *ids: str) -> bool:
        return any(i in self.items or i in self.values for i in ids if i)

    def vouch(self, tags: Mapping[str, str], *ids: str) -> dict[str, str]:
        """`tags` as restore may trust them: the resource's own tags with every `runawaytrain:`
        key replaced by what the record says (none where it does not vouch for the resource, so
        the module's "is it this incident's?" check passes it by)."""
        own = {k: v for k, v in tags.items() if not k.startswith(TAG_PREFIX)}
        marked = {k: v for k, v in tags.items() if k.startswith(TAG_PREFIX)}
        names = [i for i in ids if i and not i.startswith("arn:")]  # as the mail names it
        shown = (names or list(ids) or ["?"])[0]
        if not marked:
            return own  # untagged since: not this incident's to undo (as before the record)
        if not self.holds(*ids):
            if marked:
                self.refused[shown] = "tagged with the incident but not in its record: left alone"
            return own
        recorded = next((self.values[i] for i in ids if i in self.values), None)
        if recorded is None and self.values_expected:
            # Never from the tags (anyone may write them: a raised desired count would be
            # restored): what the guard did not record stays as the trip left it.
            self.refused[shown] = (
                "in the incident's record, but not what it was before (its values were never "
                f"recorded): left halted; its tags say {marked}, but anyone may have written "
                "them: check them and put it back by hand"
            )
            return own
        if recorded is None:
            return dict(tags)
        if (
            INCIDENT_TAG in marked
            and recorded.get(INCIDENT_TAG, marked[INCIDENT_TAG]) != marked[INCIDENT_TAG]
        ):
            return own  # halted again since by another incident: that one undoes it
        for key, value in marked.items():
            if key in recorded and recorded[key] != value:
                self.warnings[shown] = (
                    f"tag {key} is {value!r}, the record says {recorded[key]!r}: the record's "
                    "value is used"
                )
        return {**own, **recorded}


@dataclass
class Records:
    """One incident's record in one Region (or the home Region's IAM part), by kind."""

    kinds: dict[str, Record] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # the parameters, for delete_record

    def of(self, kind: str, *, values_expected: bool = True) -> Record:
        if kind not in self.kinds:
            self.kinds[kind] = Record(kind)
        record = self.kinds[kind]
        record.values_expected = values_expected
        return record

    @property
    def empty(self) -> bool:
        return not self.names


def read_record(ssm: Any, incident: str) -> Records:
    """The incident's record in the client's Region; raises LedgerError if it cannot be read
    (restore then leaves that Region's capacity as it is)."""
    found = Records()
    if not valid_incident(incident):
        return found
    prefix = f"{ROOT}/{incident}/"
    parameters: list[dict[str, Any]] = []
    try:
        pages = ssm.get_paginator("get_parameters_by_path").paginate(
            Path=prefix.rstrip("/"),
            Recursive=True,
            PaginationConfig={"PageSize": PAGE_SIZE},
        )
        for page in pages:
            parameters += page.get("Parameters", [])
    except (ClientError, BotoCoreError) as error:
        raise LedgerError(f"reading the incident's record: {describe_error(error)}") from error
    for parameter in sorted(parameters, key=lambda p: str(p["Name"])):
        name = str(parameter["Name"])
        kind = name[len(prefix) :].split("/", 1)[0]
        try:
            entries = json.loads(parameter["Value"])
        except ValueError as error:
            raise LedgerError(f"{name} is not a record: {error}") from error
        if not (
            isinstance(entries, dict)
            and isinstance(entries.get(ITEMS, []), list)
            and isinstance(entries.get(VALUES, {}), dict)
            and all(isinstance(v, dict) for v in entries.get(VALUES, {}).values())
        ):
            raise LedgerError(f"{name} is not a record")
        found.of(kind).add(entries)
        found.names.append(name)
    return found


def delete_record(ssm: Any, records: Records) -> str | None:
    """Delete the parameters `records` was read from; returns the error, or None."""
    for start in range(0, len(records.names), DELETE_BATCH):
        try:
            ssm.delete_parameters(Names=records.names[start : start + DELETE_BATCH])
        except (ClientError, BotoCoreError) as error:
            return f"deleting the incident's record: {describe_error(error)}"
    return None


# Where a tag write names its resource, per API: {parameter: how the resource id reads}.
_RESOURCE_PARAMETERS = (
    "resourceArn",
    "ResourceArn",
    "ResourceARN",
    "Resource",
    "ResourceName",
    "resourceName",
)
_TAG_WRITES = frozenset(
    {
        "tag_resource",
        "add_tags",
        "add_tags_to_resource",
        "create_tags",
        "create_or_update_tags",
        "tag_user",
        "tag_role",
    }
)


def _pairs(tags: Any) -> dict[str, str]:
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    pairs = {}
    for tag in tags or []:
        key, value = tag.get("Key", tag.get("key")), tag.get("Value", tag.get("value"))
        if key is not None and value is not None:
            pairs[str(key)] = str(value)
    return pairs


def written_tags(method: str, params: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """{resource id: the `runawaytrain:` tags} a successful tag write put on, per resource."""
    tags_of: dict[str, dict[str, str]] = {}
    if method == "create_or_update_tags":  # Auto Scaling: each tag names its group
        for tag in params.get("Tags", []):
            if str(tag.get("Key", "")).startswith(TAG_PREFIX):
                tags_of.setdefault(str(tag["ResourceId"]), {})[tag["Key"]] = str(tag["Value"])
        return tags_of
    tags = {
        k: v
        for k, v in _pairs(params.get("Tags", params.get("tags"))).items()
        if k.startswith(TAG_PREFIX)
    }
    if not tags:
        return tags_of
    resources: list[str] = list(params.get("Resources", []))
    resources += [str(params[p]) for p in _RESOURCE_PARAMETERS if p in params]
    if "UserName" in params:
        resources.append(f"user/{params['UserName']}")
    if "RoleName" in params:
        resources.append(f"role/{params['RoleName']}")
    return {resource: dict(tags) for resource in resources}


Recorder = Callable[[dict[str, dict[str, str]]], "str | None"]
RECORD_REFUSED = "RecordNotWritten"  # the code of the error a refused eager record raises


class Capture:
    """A pass-through around a client that notes the `runawaytrain:` tags each successful tag
    write puts on (the module's own record, as it writes it): the values a service module's
    batch recorded, for the ledger once the batch is done. With `write` (eager: the few fleets
    and warm pools of a Region), each tag write's values are written to the ledger first, and a
    refused write fails the tag call as AWS would, so the module leaves that one unchanged."""

    def __init__(
        self,
        client: Any,
        into: dict[str, dict[str, str]],
        lock: threading.Lock,
        write: Recorder | None = None,
    ):
        self._client = client
        self._into = into
        self._lock = lock
        self._write = write

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in _TAG_WRITES:
            return attribute

        def call(*args: Any, **params: Any) -> Any:
            error = self._write(written_tags(name, params)) if self._write else None
            if error is not None:
                refused = {"Error": {"Code": RECORD_REFUSED, "Message": f"record: {error}"}}
                raise ClientError(refused, name)  # type: ignore[arg-type]
            answer = attribute(*args, **params)
            with self._lock:
                for resource, tags in written_tags(name, params).items():
                    self._into.setdefault(resource, {}).update(tags)
            return answer

        return call


def capture(
    client: Any,
    into: dict[str, dict[str, str]],
    lock: threading.Lock,
    write: Recorder | None = None,
) -> Any:
    """`client` (or a module's {service: client}) with its tag writes noted into `into` (and,
    with `write`, recorded first)."""
    if isinstance(client, dict):
        return {service: Capture(one, into, lock, write) for service, one in client.items()}
    return Capture(client, into, lock, write)
