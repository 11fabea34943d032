"""Amazon Lightsail, which moto lacks entirely: the few operations the guard and its tests use.

moto 5.2.6 has no Lightsail backend: every call answers 404 "Not yet implemented". This module
is a minimal moto backend of its own (a BaseBackend and a BaseResponse, as moto's services are),
routed the way moto routes every service, in both modes:

- in-process (mock_aws): BotocoreStubber matches the request URL against
  `moto.backend_index.backend_url_patterns` and asks `moto.backends.get_backend(service)`;
- moto_server (strict_aws/server.py): DomainDispatcherApplication reads the service from the
  SigV4 credential scope (".../lightsail/aws4_request"), makes the host
  "lightsail.<region>.amazonaws.com", matches it against the same pattern list, and builds a
  Flask app from `get_backend(service)`'s url paths.

`install` appends Lightsail's URL pattern to that list and wraps `get_backend` to answer
"lightsail" with this module's BackendDict (BackendDict registers itself, so mock_aws and
moto_server's reset clear it like any other service). Nothing of moto's own services changes.

What is emulated, AWS JSON 1.1, target prefix Lightsail_20161128 (botocore model lightsail
2016-11-28), each shape as the API Reference and the AWS CLI's examples give it
(awscli/examples/lightsail/get-instances.rst, get-bundles.rst,
get-relational-database-bundles.rst):

- CreateInstances (instanceNames, availabilityZone, blueprintId, bundleId required; tags):
  one instance per name, `pending` (code 0) for the layer's pending_seconds, then `running`
  (16); hardware.cpuCount / ramSizeInGb are the bundle's; answers one operation per instance
  (operationType CreateInstance, status Started);
- StopInstance (for seeding a stopped instance): `stopped` (80). "Lightsail instances and
  managed databases incur charges until they are deleted. These resources accrue charges even
  when they are in the stopped state" (Lightsail Developer Guide, FAQ "Billing and account
  management"): a stopped instance still lists and still bills;
- GetInstances, GetRelationalDatabases: every resource of the region, a page at a time
  (`pageToken` / `nextPageToken`; the page size is undocumented: PAGE_SIZE here);
- GetBundles: the active instance bundles; `includeInactive` adds retired ones (the CLI example
  notes a bundle no longer offered stays on the instances created with it); Lightsail for
  Research bundles only with `appCategory` "LfR" ("You must use this parameter to view
  Lightsail for Research bundles", API Reference, GetBundles);
- CreateRelationalDatabase, GetRelationalDatabaseBundles: a database `creating` for
  pending_seconds, then `available`, with its bundle's hardware.

Refusals (InvalidInputException, 400; NotFoundException, 400): a name already used in the
region, an unknown or inactive bundle, an Availability Zone outside the region. AWS documents
the exception types (API Reference, Common errors of each operation), not their texts: the
texts here are UNCERTAIN.

The bundles: nano_3_0 / micro_3_0 / small_3_0 as the CLI example lists them (5, 7 and 12 USD a
month, 2 vCPUs); medium_3_0, 24 USD, 2 vCPUs, 4 GB (Lightsail Developer Guide, "Understanding
your Lightsail bill": "the $24 USD/month Linux or Unix instance plan" for 4 GB); nano_2_0,
3.5 USD, 1 vCPU, inactive (the CLI's older example); database bundles as the CLI example lists
them (micro_2_0 15 USD ... large_ha_2_0 230 USD). Tests add others with `add_bundle`.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import moto.backends as moto_backends
from moto import backend_index
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse

from strict_aws.active import current
from strict_aws.patches import Patches

SERVICE = "lightsail"
TARGET_PREFIX = "Lightsail_20161128"
URL_PATTERN = re.compile(r"https?://lightsail\.(.+)\.amazonaws\.com")
PAGE_SIZE = 20  # undocumented by AWS: small, so tests see a second page
RESEARCH = "LfR"  # appCategory of Lightsail for Research bundles
# InstanceState codes (API Reference, InstanceState; the EC2 codes).
PENDING, RUNNING, STOPPED = (0, "pending"), (16, "running"), (80, "stopped")


@dataclass(frozen=True)
class Bundle:
    bundle_id: str
    price: float  # USD a month
    cpu_count: int
    ram_gb: float
    disk_gb: int
    active: bool = True
    app_categories: tuple[str, ...] = ()  # ("LfR",) for Lightsail for Research

    def to_json(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "price": self.price,
            "cpuCount": self.cpu_count,
            "diskSizeInGb": self.disk_gb,
            "bundleId": self.bundle_id,
            "instanceType": self.bundle_id.split("_")[0],
            "isActive": self.active,
            "name": self.bundle_id.split("_")[0].title(),
            "ramSizeInGb": self.ram_gb,
            "transferPerMonthInGb": 1024,
            "supportedPlatforms": ["LINUX_UNIX"],
        }
        if self.app_categories:
            shape["supportedAppCategories"] = list(self.app_categories)
        return shape


INSTANCE_BUNDLES = (
    Bundle("nano_3_0", 5.0, 2, 0.5, 20),
    Bundle("micro_3_0", 7.0, 2, 1.0, 40),
    Bundle("small_3_0", 12.0, 2, 2.0, 60),
    Bundle("medium_3_0", 24.0, 2, 4.0, 80),
    Bundle("nano_2_0", 3.5, 1, 0.5, 20, active=False),
)
DATABASE_BUNDLES = (
    Bundle("micro_2_0", 15.0, 2, 1.0, 40),
    Bundle("micro_ha_2_0", 30.0, 2, 1.0, 40),
    Bundle("small_2_0", 30.0, 2, 2.0, 80),
    Bundle("small_ha_2_0", 60.0, 2, 2.0, 80),
    Bundle("medium_2_0", 60.0, 2, 4.0, 120),
    Bundle("medium_ha_2_0", 120.0, 2, 4.0, 120),
    Bundle("large_2_0", 115.0, 2, 8.0, 240),
    Bundle("large_ha_2_0", 230.0, 2, 8.0, 240),
)


@dataclass
class _Resource:
    name: str
    arn: str
    zone: str
    bundle: Bundle
    blueprint: str
    tags: list[dict[str, str]]
    created_at: float  # wall clock, for createdAt
    ready_at: float  # the layer's clock: pending / creating until then
    stopped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _clock() -> float:
    layer = current()
    return layer.clock() if layer is not None else time.monotonic()


def _pending_seconds() -> float:
    layer = current()
    return layer.pending_seconds if layer is not None else 0.0


class LightsailBackend(BaseBackend):
    """One account's Lightsail in one region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.instances: dict[str, _Resource] = {}
        self.databases: dict[str, _Resource] = {}
        self.bundles: list[Bundle] = list(INSTANCE_BUNDLES)
        self.database_bundles: list[Bundle] = list(DATABASE_BUNDLES)
        self.lock = threading.Lock()

    @property
    def _url_module(self) -> ModuleType:  # moto reads url_bases and url_paths from it
        return sys.modules[__name__]

    def _arn(self, kind: str) -> str:
        return f"arn:aws:lightsail:{self.region_name}:{self.account_id}:{kind}/{uuid.uuid4()}"

    def _check_zone(self, zone: str) -> None:
        if not re.fullmatch(rf"{re.escape(self.region_name)}[a-z]", zone or ""):
            raise _invalid(f"The Availability Zone {zone} is not in {self.region_name}")

    def create_instances(
        self, names: list[str], zone: str, blueprint: str, bundle_id: str, tags: list[Any]
    ) -> list[_Resource]:
        self._check_zone(zone)
        bundle = next((b for b in self.bundles if b.bundle_id == bundle_id and b.active), None)
        if bundle is None:
            raise _invalid(f"The bundle {bundle_id} does not exist or is not active")
        with self.lock:
            taken = [name for name in names if name in self.instances]
            if taken:
                raise _invalid(f"Some names are already in use: {', '.join(taken)}")
            made = []
            for name in names:
                now = _clock()
                made.append(
                    _Resource(
                        name,
                        self._arn("Instance"),
                        zone,
                        bundle,
                        blueprint,
                        list(tags),
                        time.time(),
                        now + _pending_seconds(),
                    )
                )
                self.instances[name] = made[-1]
            return made

    def stop_instance(self, name: str) -> _Resource:
        with self.lock:
            if name not in self.instances:
                raise _not_found(f"The Instance does not exist: {name}")
            self.instances[name].stopped = True
            return self.instances[name]

    def create_database(
        self, name: str, zone: str, blueprint: str, bundle_id: str, tags: list[Any]
    ) -> _Resource:
        if zone:
            self._check_zone(zone)
        bundle = next(
            (b for b in self.database_bundles if b.bundle_id == bundle_id and b.active), None
        )
        if bundle is None:
            raise _invalid(f"The bundle {bundle_id} does not exist or is not active")
        with self.lock:
            if name in self.databases:
                raise _invalid(f"The name {name} is already in use")
            made = _Resource(
                name,
                self._arn("RelationalDatabase"),
                zone or f"{self.region_name}a",
                bundle,
                blueprint,
                list(tags),
                time.time(),
                _clock() + _pending_seconds(),
            )
            self.databases[name] = made
            return made


def _invalid(message: str) -> JsonRESTError:
    return JsonRESTError("InvalidInputException", message)


def _not_found(message: str) -> JsonRESTError:
    return JsonRESTError("NotFoundException", message)


def _location(resource: _Resource, region: str) -> dict[str, str]:
    return {"availabilityZone": resource.zone, "regionName": region}


def _instance_json(instance: _Resource, region: str) -> dict[str, Any]:
    if instance.stopped:
        code, name = STOPPED
    elif _clock() < instance.ready_at:
        code, name = PENDING
    else:
        code, name = RUNNING
    return {
        "name": instance.name,
        "arn": instance.arn,
        "supportCode": f"000000000000/i-{instance.arn[-17:].replace('-', '')}",
        "createdAt": instance.created_at,
        "location": _location(instance, region),
        "resourceType": "Instance",
        "tags": instance.tags,
        "blueprintId": instance.blueprint,
        "bundleId": instance.bundle.bundle_id,
        "isStaticIp": False,
        "hardware": {
            "cpuCount": instance.bundle.cpu_count,
            "disks": [{"sizeInGb": instance.bundle.disk_gb, "isSystemDisk": True}],
            "ramSizeInGb": instance.bundle.ram_gb,
        },
        "state": {"code": code, "name": name},
    }


def _database_json(database: _Resource, region: str) -> dict[str, Any]:
    if database.stopped:
        state = "stopped"
    elif _clock() < database.ready_at:
        state = "creating"
    else:
        state = "available"
    return {
        "name": database.name,
        "arn": database.arn,
        "createdAt": database.created_at,
        "location": _location(database, region),
        "resourceType": "RelationalDatabase",
        "tags": database.tags,
        "relationalDatabaseBlueprintId": database.blueprint,
        "relationalDatabaseBundleId": database.bundle.bundle_id,
        "hardware": {
            "cpuCount": database.bundle.cpu_count,
            "diskSizeInGb": database.bundle.disk_gb,
            "ramSizeInGb": database.bundle.ram_gb,
        },
        "state": state,
        **database.extra,
    }


def _operation(resource: _Resource, region: str, kind: str, operation: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "resourceName": resource.name,
        "resourceType": kind,
        "createdAt": time.time(),
        "location": _location(resource, region),
        "isTerminal": False,
        "operationType": operation,
        "status": "Started",
        "statusChangedAt": time.time(),
    }


def _page(items: list[dict[str, Any]], token: str | None, key: str) -> str:
    start = int(token) if token and token.isdigit() else 0
    body: dict[str, Any] = {key: items[start : start + PAGE_SIZE]}
    if start + PAGE_SIZE < len(items):
        body["nextPageToken"] = str(start + PAGE_SIZE)
    return json.dumps(body)


class LightsailResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name=SERVICE)

    @property
    def backend(self) -> LightsailBackend:
        return lightsail_backends[self.current_account][self.region]

    def _body(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    def create_instances(self) -> str:
        body = self._body()
        for required in ("instanceNames", "availabilityZone", "blueprintId", "bundleId"):
            if not body.get(required):
                raise _invalid(f"{required} is required")
        made = self.backend.create_instances(
            body["instanceNames"],
            body["availabilityZone"],
            body["blueprintId"],
            body["bundleId"],
            body.get("tags", []),
        )
        operations = [_operation(i, self.region, "Instance", "CreateInstance") for i in made]
        return json.dumps({"operations": operations})

    def stop_instance(self) -> str:
        stopped = self.backend.stop_instance(self._body().get("instanceName", ""))
        operation = _operation(stopped, self.region, "Instance", "StopInstance")
        return json.dumps({"operations": [operation]})

    def get_instances(self) -> str:
        with self.backend.lock:
            found = list(self.backend.instances.values())
        items = [_instance_json(i, self.region) for i in found]
        return _page(items, self._body().get("pageToken"), "instances")

    def get_bundles(self) -> str:
        body = self._body()
        category = body.get("appCategory")
        chosen = [
            b.to_json()
            for b in self.backend.bundles
            if (b.active or body.get("includeInactive"))
            and (RESEARCH in b.app_categories) == (category == RESEARCH)
        ]
        return _page(chosen, body.get("pageToken"), "bundles")

    def create_relational_database(self) -> str:
        body = self._body()
        required = ("relationalDatabaseName", "relationalDatabaseBlueprintId")
        required += ("relationalDatabaseBundleId", "masterDatabaseName", "masterUsername")
        for name in required:
            if not body.get(name):
                raise _invalid(f"{name} is required")
        made = self.backend.create_database(
            body["relationalDatabaseName"],
            body.get("availabilityZone", ""),
            body["relationalDatabaseBlueprintId"],
            body["relationalDatabaseBundleId"],
            body.get("tags", []),
        )
        operation = _operation(made, self.region, "RelationalDatabase", "CreateRelationalDatabase")
        return json.dumps({"operations": [operation]})

    def get_relational_databases(self) -> str:
        with self.backend.lock:
            found = list(self.backend.databases.values())
        items = [_database_json(d, self.region) for d in found]
        return _page(items, self._body().get("pageToken"), "relationalDatabases")

    def get_relational_database_bundles(self) -> str:
        body = self._body()
        chosen = [
            b.to_json()
            for b in self.backend.database_bundles
            if b.active or body.get("includeInactive")
        ]
        return _page(chosen, body.get("pageToken"), "bundles")


# What moto reads from a service's urls module (BaseBackend._url_module, above).
url_bases = [URL_PATTERN.pattern]
url_paths = {"{0}/$": LightsailResponse.dispatch}
lightsail_backends = BackendDict(LightsailBackend, SERVICE)


def add_bundle(region: str, bundle: Bundle, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Offer `bundle` for instances in `region` (a Lightsail for Research GPU bundle, say)."""
    backend = lightsail_backends[account_id][region]
    backend.bundles = [b for b in backend.bundles if b.bundle_id != bundle.bundle_id] + [bundle]


_ORIGINAL_GET_BACKEND = moto_backends.get_backend


def _get_backend(name: Any) -> Any:
    if name == SERVICE:
        return lightsail_backends
    return _ORIGINAL_GET_BACKEND(name)


def install(patches: Patches) -> None:
    patches.set(moto_backends, "get_backend", _get_backend)  # type: ignore[arg-type]
    patches.append(backend_index.backend_url_patterns, (SERVICE, URL_PATTERN))
