"""Service-managed StackSets declared in a stack, deployed as AWS deploys them.

moto implements the StackSets API but never deploys a service-managed set to an organisation's
accounts by itself, and its CloudFormation skips AWS::CloudFormation::StackSet resources. Here a
stack (created, updated, or a change set executed) that declares service-managed sets has them
run as AWS runs them:

- at creation, each set's stack instances are made in every targeted account and Region: the
  accounts of its OrganizationalUnitIds and of every OU below them (service-managed targets
  include child OUs: CloudFormation User Guide, "Enable or disable automatic deployments for
  StackSets in AWS Organizations": "accounts that are currently in the target OUs and their
  child OUs"), filtered by AccountFilterType against `Accounts` (API Reference,
  DeploymentTargets: INTERSECTION only those, DIFFERENCE all but those, UNION plus those, NONE
  the OUs), never the management account ("CloudFormation doesn't deploy stack instances to the
  organization management account", same page);
- with AutoDeployment Enabled, an account created in or moved into a target OU gets the set's
  instances, and one leaving (moved out, removed, closed) loses them unless
  RetainStacksOnAccountRemoval (API Reference, AutoDeployment: "If an account is removed from a
  target organization or OU, StackSets deletes stack instances from the account"). "Automatic
  deployments do not consider account level targeting filters" (User Guide, same page,
  Considerations): a joining account is judged by the OUs alone;
- a set whose AutoDeployment DependsOn names another set (or whose resource DependsOn does) is
  deployed after it;
- each instance is a stack named `StackSet-<set name>-<id>` (UNCERTAIN: the form seen in
  member accounts, not a documented contract) made from the set's TemplateURL, read from the S3
  object it names (path-style or virtual-hosted URL);
- deleting the declaring stack deletes the sets' instances.

What is not modelled: operation preferences and timing (all at once, synchronously, inside the
call that caused it), parameter overrides, stack instance status and drift, the StackSets API
view of these sets (DescribeStackSet knows nothing of them), failed instances (an instance whose
stack moto cannot create raises in the call that caused it).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from moto.cloudformation.models import CloudFormationBackend, cloudformation_backends
from moto.cloudformation.parsing import clean_json
from moto.organizations.models import OrganizationsBackend, organizations_backends
from moto.s3.models import s3_backends

from strict_aws.patches import Patches

STACK_SET_TYPE = "AWS::CloudFormation::StackSet"
PARTITION = "aws"
_LOCK = threading.RLock()

_ORIGINAL: dict[str, Any] = {
    "create_stack": CloudFormationBackend.create_stack,
    "update_stack": CloudFormationBackend.update_stack,
    "execute_change_set": CloudFormationBackend.execute_change_set,
    "delete_stack": CloudFormationBackend.delete_stack,
    "create_account": OrganizationsBackend.create_account,
    "move_account": OrganizationsBackend.move_account,
    "remove_account_from_organization": OrganizationsBackend.remove_account_from_organization,
    "close_account": OrganizationsBackend.close_account,
}


@dataclass
class DeclaredStackSet:
    """One service-managed set a stack declares, and the instances made of it."""

    owner: str  # the management account that declared it
    region: str  # the declaring stack's Region
    declared_by: str  # the declaring stack's id
    name: str
    template_url: str
    ous: tuple[str, ...]
    accounts: tuple[str, ...]
    filter_type: str
    regions: tuple[str, ...]
    auto_deployment: bool
    retain_on_removal: bool
    after: tuple[str, ...]  # names of sets deployed first
    parameters: dict[str, str]
    instances: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, region)


# owner account -> set name -> the set
_SETS: dict[str, dict[str, DeclaredStackSet]] = {}


def install(patches: Patches) -> None:
    patches.set(CloudFormationBackend, "create_stack", _create_stack)
    patches.set(CloudFormationBackend, "update_stack", _update_stack)
    patches.set(CloudFormationBackend, "execute_change_set", _execute_change_set)
    patches.set(CloudFormationBackend, "delete_stack", _delete_stack)
    for name in ("create_account", "move_account", "remove_account_from_organization"):
        patches.set(OrganizationsBackend, name, _organization_changed(name))
    patches.set(OrganizationsBackend, "close_account", _organization_changed("close_account"))
    _SETS.clear()


def declared_stack_sets(owner: str) -> dict[str, DeclaredStackSet]:
    """The sets `owner` declared (for tests and the drill: their instances by account)."""
    return dict(_SETS.get(owner, {}))


# ---- CloudFormation: a stack declaring sets ------------------------------------------------


def _create_stack(self: CloudFormationBackend, *args: Any, **kwargs: Any) -> Any:
    stack = _ORIGINAL["create_stack"](self, *args, **kwargs)
    _declare(self, stack)
    return stack


def _update_stack(self: CloudFormationBackend, *args: Any, **kwargs: Any) -> Any:
    result = _ORIGINAL["update_stack"](self, *args, **kwargs)
    name = kwargs.get("name", args[0] if args else "")
    _declare(self, self.get_stack(name))
    return result


def _execute_change_set(self: CloudFormationBackend, *args: Any, **kwargs: Any) -> Any:
    name = kwargs.get("change_set_name", args[0] if args else "")
    change_set = self.change_sets.get(name) or next(
        (c for c in self.change_sets.values() if c.change_set_name == name), None
    )
    result = _ORIGINAL["execute_change_set"](self, *args, **kwargs)
    if change_set is not None:
        _declare(self, self.stacks[change_set.stack_id])
    return result


def _delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
    stack = next(
        (s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)), None
    )
    if stack is not None:
        with _LOCK:
            sets = _SETS.get(self.account_id, {})
            for declared in [d for d in sets.values() if d.declared_by == stack.stack_id]:
                for account, region in list(declared.instances):
                    _delete_instance(declared, account, region)
                del sets[declared.name]
    _ORIGINAL["delete_stack"](self, name_or_stack_id)


def _declare(backend: CloudFormationBackend, stack: Any) -> None:
    """Reads the service-managed sets of `stack`'s template; deploys each to its targets."""
    # The template now in force: an executed change set updates `template`, not the parsed
    # `template_dict` moto keeps from the stack's creation (empty for a change set's stack).
    template = stack.parse_template(stack.template) if stack.template else {}
    resources = template.get("Resources", {})
    found = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != STACK_SET_TYPE:
            continue
        raw = dict(resource.get("Properties", {}))
        # AutoDeployment DependsOn names other sets by GetAtt StackSetId, which moto cannot
        # resolve (it made no StackSet): read for ordering, not resolved.
        auto = dict(raw.get("AutoDeployment", {}))
        named = _named_sets(auto.pop("DependsOn", []))
        properties = clean_json({**raw, "AutoDeployment": auto}, stack.resource_map)
        properties["_after"] = named
        if properties.get("PermissionModel") != "SERVICE_MANAGED":
            continue
        found.append(_read_set(backend, stack, (logical_id, resource), properties, resources))
    if not found:
        return
    with _LOCK:
        sets = _SETS.setdefault(backend.account_id, {})
        for declared in found:
            previous = sets.get(declared.name)
            if previous is not None:
                declared.instances = previous.instances
            sets[declared.name] = declared
        for declared in _in_order(found):
            _reconcile(declared, creating=True)


def _read_set(
    backend: CloudFormationBackend,
    stack: Any,
    declaration: tuple[str, dict[str, Any]],
    properties: dict[str, Any],
    resources: dict[str, Any],
) -> DeclaredStackSet:
    logical_id, resource = declaration
    groups = properties.get("StackInstancesGroup", [])
    targets = groups[0].get("DeploymentTargets", {}) if groups else {}
    regions = tuple(r for g in groups for r in g.get("Regions", []))
    auto = properties.get("AutoDeployment", {})
    depends = resource.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else list(depends)
    depends += properties.get("_after", [])
    after = tuple(
        str(resources[d]["Properties"].get("StackSetName", d))
        for d in depends
        if resources.get(d, {}).get("Type") == STACK_SET_TYPE
    )
    return DeclaredStackSet(
        owner=backend.account_id,
        region=backend.region_name,
        declared_by=stack.stack_id,
        name=str(properties.get("StackSetName", logical_id)),
        template_url=str(properties["TemplateURL"]),
        ous=tuple(targets.get("OrganizationalUnitIds", [])),
        accounts=tuple(targets.get("Accounts", [])),
        filter_type=str(targets.get("AccountFilterType") or _default_filter(targets)),
        regions=regions,
        auto_deployment=str(auto.get("Enabled", False)).lower() == "true",
        retain_on_removal=str(auto.get("RetainStacksOnAccountRemoval", False)).lower() == "true",
        after=after,
        parameters={
            str(p["ParameterKey"]): str(p["ParameterValue"])
            for p in properties.get("Parameters", [])
        },
    )


def _named_sets(value: Any) -> list[str]:
    """Logical ids a value refers to by Fn::GetAtt or Ref."""
    found: list[str] = []
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.append(target[0] if isinstance(target, list) else str(target).split(".")[0])
        elif "Ref" in value:
            found.append(str(value["Ref"]))
        else:
            for item in value.values():
                found += _named_sets(item)
    elif isinstance(value, list):
        for item in value:
            found += _named_sets(item)
    return found


def _default_filter(targets: dict[str, Any]) -> str:
    """UNION "is the default value if AccountFilterType is not provided" (API Reference,
    DeploymentTargets); without Accounts it is the OUs alone."""
    return "UNION" if targets.get("Accounts") else "NONE"


def _in_order(sets: list[DeclaredStackSet]) -> list[DeclaredStackSet]:
    """Sets named in another's `after` first."""
    done: list[DeclaredStackSet] = []
    by_name = {s.name: s for s in sets}

    def visit(declared: DeclaredStackSet) -> None:
        if declared in done:
            return
        for name in declared.after:
            if name in by_name:
                visit(by_name[name])
        done.append(declared)

    for declared in sets:
        visit(declared)
    return done


# ---- Organizations: accounts joining and leaving -------------------------------------------


def _organization_changed(name: str) -> Any:
    def changed(self: OrganizationsBackend, **kwargs: Any) -> Any:
        result = _ORIGINAL[name](self, **kwargs)
        with _LOCK:
            sets = [s for s in _SETS.get(self.account_id, {}).values() if s.auto_deployment]
            for declared in _in_order(sets):
                _reconcile(declared, creating=False)
        return result

    changed.__name__ = f"_{name}"
    return changed


def target_accounts(declared: DeclaredStackSet, *, creating: bool) -> set[str]:
    """The accounts `declared` deploys to now: at creation its filter applies; automatic
    deployment judges by the OUs alone (module docstring)."""
    organization = organizations_backends[declared.owner][PARTITION]
    if organization.org is None:
        return set()
    wanted = set(declared.ous)
    inside: set[str] = set()
    for ou in wanted:
        inside |= _accounts_below(organization, ou)
    inside = {
        a.id
        for a in organization.accounts
        if a.id in inside and a.status == "ACTIVE" and a.id != organization.org.master_account_id
    }
    listed = set(declared.accounts)
    if not creating or declared.filter_type == "NONE":
        chosen = inside
    elif declared.filter_type == "INTERSECTION":
        chosen = inside & listed
    elif declared.filter_type == "DIFFERENCE":
        chosen = inside - listed
    else:  # UNION
        chosen = inside | listed
    return chosen - {organization.org.master_account_id}


def _accounts_below(organization: OrganizationsBackend, parent: str) -> set[str]:
    found = {a.id for a in organization.accounts if a.parent_id == parent}
    for ou in organization.ou:
        if ou.parent_id == parent:
            found |= _accounts_below(organization, ou.id)
    return found


def _reconcile(declared: DeclaredStackSet, *, creating: bool) -> None:
    """Creating: instances for every target. Otherwise (automatic deployment): instances for
    accounts that joined the OUs, none left in accounts that left them (unless retained)."""
    in_ous = target_accounts(declared, creating=False)
    wanted = target_accounts(declared, creating=True) if creating else in_ous
    have = {account for account, _ in declared.instances}
    for account in sorted(wanted - have):
        for region in declared.regions:
            _create_instance(declared, account, region)
    if creating:
        return
    for account, region in list(declared.instances):
        if account in in_ous:
            continue
        if declared.retain_on_removal:  # its stack stays, no longer an instance of the set
            del declared.instances[(account, region)]
        else:
            _delete_instance(declared, account, region)


def _create_instance(declared: DeclaredStackSet, account: str, region: str) -> None:
    """The instance's stack, made as `cdk deploy` makes stacks in moto (a CREATE change set,
    executed): moto's CreateStack raises on a resource it fails to make, its change sets go on
    (strict_aws/cloudformation.py lists such a resource CREATE_FAILED), so a StackSet's stack
    reads as the same template deployed by cdk does."""
    backend = cloudformation_backends[account][region]
    name = f"StackSet-{declared.name}-{uuid.uuid4()}"
    change_set_id, stack_id = backend.create_change_set(
        stack_name=name,
        change_set_name="stack-set-instance",
        template=_read_template(declared),
        parameters=dict(declared.parameters),
        description=f"stack instance of {declared.name}",
        change_set_type="CREATE",
    )
    try:
        _ORIGINAL["execute_change_set"](backend, change_set_name=change_set_id, stack_name=name)
    except Exception:
        # moto fails the first execution of a guard template (a rule whose EventBusName is a
        # Ref to the stack's bus: strict_aws/cloudformation.py) and completes it when executed
        # again, having made the bus. `cdk deploy` of the same template into moto_server gets
        # there through the AWS SDK's retry of that 500; the instance is made the same way.
        _ORIGINAL["execute_change_set"](backend, change_set_name=change_set_id, stack_name=name)
    declared.instances[(account, region)] = stack_id


def _delete_instance(declared: DeclaredStackSet, account: str, region: str) -> None:
    stack_id = declared.instances.pop((account, region))
    _ORIGINAL["delete_stack"](cloudformation_backends[account][region], stack_id)


def _read_template(declared: DeclaredStackSet) -> str:
    bucket, key = parse_s3_url(declared.template_url)
    body = s3_backends[declared.owner][PARTITION].get_object(bucket, key)
    if body is None:
        raise ValueError(f"{declared.name}: no template at {declared.template_url}")
    value = body.value
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 https URL: path-style (s3.<region>.amazonaws.com/<bucket>/<key>)
    or virtual-hosted (<bucket>.s3.<region>.amazonaws.com/<key>)."""
    parsed = urlparse(url)
    host, path = parsed.netloc, parsed.path.lstrip("/")
    if host.startswith("s3.") or host.startswith("s3-") or host == "s3.amazonaws.com":
        bucket, _, key = path.partition("/")
        return bucket, key
    return host.split(".s3", 1)[0], path
