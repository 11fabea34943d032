"""Strict SageMaker Studio apps, which moto lacks (CreateApp, DescribeApp, ListApps, DeleteApp:
NotImplementedError; AddTags on an app ARN fails to parse it).

What AWS documents (SageMaker API Reference, each operation and AppDetails / DescribeApp):
- an app is named by DomainId, UserProfileName or SpaceName (one of them), AppType, AppName; its
  ARN `arn:aws:sagemaker:<region>:<account>:app/<domain>/<profile or space>/<apptype>/<name>`
  (Service Authorization Reference, SageMaker resource type `app`; the app type lower-cased, as
  AWS's own ARNs read);
- Status Deleted | Deleting | Failed | InService | Pending: Pending after CreateApp for the
  layer's `pending_seconds`, then InService; DeleteApp ("Used to stop and delete an app") makes
  it Deleting for `pending_seconds`, then Deleted, and ListApps goes on listing it as Deleted
  (how long is undocumented: kept here);
- ListApps: DomainIdEquals, UserProfileNameEquals, SpaceNameEquals, MaxResults (1-100),
  NextToken; each app's ResourceSpec.InstanceType (ml.* or `system`);
- DeleteApp errors: ResourceInUse, ResourceNotFound. Which states refuse, and the texts, are
  not documented: UNCERTAIN, modelled as ResourceNotFound for an unknown or Deleted app and
  ResourceInUse for one Pending or Deleting; CreateApp of a name that is not Deleted:
  ResourceInUse;
- AddTags / ListTags / DeleteTags take the app ARN (AddTags "adds or overwrites").
Not modelled: user profiles and spaces (moto has neither: any name is taken), a domain's default
ResourceSpec (an app without one is given `system` for JupyterServer, ml.t3.medium otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from strict_aws.active import current
from strict_aws.patches import Patches

_RESOURCE_FROM_ARN = SageMakerModelBackend._get_resource_from_arn
PAGE = 100
FREE_TYPE = "system"


@dataclass
class App:
    domain: str
    owner: str  # the user profile or space name
    owner_is_space: bool
    app_type: str
    name: str
    arn: str
    resource_spec: dict[str, Any]
    created: datetime
    since: float  # the layer's clock when its status last changed
    status: str = "Pending"
    tags: list[dict[str, str]] = field(default_factory=list)

    def settle(self) -> None:
        layer = current()
        if layer is not None and layer.clock() < self.since + layer.pending_seconds:
            return
        self.status = {"Pending": "InService", "Deleting": "Deleted"}.get(self.status, self.status)

    def details(self) -> dict[str, Any]:
        self.settle()
        owner = {"SpaceName" if self.owner_is_space else "UserProfileName": self.owner}
        return {
            "DomainId": self.domain,
            **owner,
            "AppType": self.app_type,
            "AppName": self.name,
            "Status": self.status,
            "CreationTime": self.created,
            "ResourceSpec": self.resource_spec,
        }


def install(patches: Patches) -> None:
    patches.set(SageMakerResponse, "create_app", _create_app)
    patches.set(SageMakerResponse, "describe_app", _describe_app)
    patches.set(SageMakerResponse, "list_apps", _list_apps)
    patches.set(SageMakerResponse, "delete_app", _delete_app)
    patches.set(SageMakerModelBackend, "_get_resource_from_arn", _resource_from_arn)


def _apps(backend: SageMakerModelBackend) -> dict[tuple[str, str, str, str], App]:
    if not hasattr(backend, "strict_apps"):
        backend.strict_apps = {}  # type: ignore[attr-defined]
    return backend.strict_apps  # type: ignore[attr-defined,no-any-return]


def _key(response: SageMakerResponse) -> tuple[str, str, str, str]:
    owner = response._get_param("SpaceName") or response._get_param("UserProfileName")
    if not owner:
        raise ValidationError(message="Either UserProfileName or SpaceName must be set.")
    return (
        response._get_param("DomainId"),
        owner,
        response._get_param("AppType"),
        response._get_param("AppName"),
    )


def _now() -> float:
    layer = current()
    return layer.clock() if layer else 0.0


def _create_app(self: SageMakerResponse) -> Any:
    backend = self.sagemaker_backend
    domain, owner, app_type, name = key = _key(self)
    if domain not in backend.domains:
        raise ResourceNotFound(message=f"Domain {domain} does not exist.")
    apps = _apps(backend)
    if key in apps and apps[key].details()["Status"] != "Deleted":
        raise ResourceInUseException(message=f"App {apps[key].arn} already exists.")
    spec = self._get_param("ResourceSpec") or {
        "InstanceType": FREE_TYPE if app_type == "JupyterServer" else "ml.t3.medium"
    }
    arn = (
        f"arn:aws:sagemaker:{self.region}:{self.current_account}:app/{domain}/{owner}/"
        f"{app_type.lower()}/{name}"
    )
    apps[key] = App(
        domain=domain,
        owner=owner,
        owner_is_space=bool(self._get_param("SpaceName")),
        app_type=app_type,
        name=name,
        arn=arn,
        resource_spec=spec,
        created=datetime.now(UTC),
        since=_now(),
        tags=list(self._get_param("Tags") or []),
    )
    return ActionResult({"AppArn": arn})


def _found(self: SageMakerResponse) -> App:
    app = _apps(self.sagemaker_backend).get(_key(self))
    if app is None:
        raise ResourceNotFound(message="App does not exist.")
    return app


def _describe_app(self: SageMakerResponse) -> Any:
    app = _found(self)
    return ActionResult({"AppArn": app.arn, **app.details()})


def _delete_app(self: SageMakerResponse) -> Any:
    app = _found(self)
    status = app.details()["Status"]
    if status == "Deleted":
        raise ResourceNotFound(message=f"App {app.arn} does not exist.")
    if status in ("Pending", "Deleting"):
        raise ResourceInUseException(message=f"App {app.arn} is in {status} status.")
    app.status, app.since = "Deleting", _now()
    return EmptyResult()


def _list_apps(self: SageMakerResponse) -> Any:
    wanted = {
        "DomainId": self._get_param("DomainIdEquals"),
        "UserProfileName": self._get_param("UserProfileNameEquals"),
        "SpaceName": self._get_param("SpaceNameEquals"),
    }
    size = int(self._get_param("MaxResults") or PAGE)
    if not 1 <= size <= PAGE:
        raise ValidationError(message="MaxResults must be between 1 and 100.")
    start = int(self._get_param("NextToken") or 0)
    listed = [
        app.details()
        for _, app in sorted(_apps(self.sagemaker_backend).items())
        if all(value is None or app.details().get(k) == value for k, value in wanted.items())
    ]
    answer: dict[str, Any] = {"Apps": listed[start : start + size]}
    if start + size < len(listed):
        answer["NextToken"] = str(start + size)
    return ActionResult(answer)


def _resource_from_arn(self: SageMakerModelBackend, arn: str) -> Any:
    if ":app/" not in arn:
        return _RESOURCE_FROM_ARN(self, arn)
    for app in _apps(self).values():
        if app.arn == arn:
            return app
    raise ValidationError(message=f"Could not find app with arn {arn}")
