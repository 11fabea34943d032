"""The synthesized CloudFormation templates as IAM sees them: each stack's resources with the
ARNs they will have once deployed, and every policy document in them, intrinsics resolved.

Resolution is done the way CloudFormation does it at deploy time, for the intrinsics and return
values these templates use (CloudFormation User Guide, each resource type's "Return values"):
an intrinsic or resource type this module does not know fails loudly, naming it, so a new kind
of resource is added here rather than silently left unchecked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PARTITION = "aws"
# Names CloudFormation generates when a template gives none: "<stack name>-<logical id>-<random
# suffix>", shortened to the type's length limit by cutting the stack name and logical id, so
# the start of the stack name (runawaytrain-...) always survives (CloudFormation User Guide,
# "Name type"). The suffix stands for the random part.
GENERATED_SUFFIX = "1A2B3C4D5E6F7"
RANDOM_ID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"  # KMS key ids and the like
ORGANIZATION_ID = "o-a1b2c3d4e5"  # the payer's organization, as its ARNs name it

# Per type: the property that names the resource (None: always generated or random), what Ref
# returns, and the ARN format ({name}, {region}, {account}, {partition}; {path} for roles).
_TYPES: dict[str, tuple[str | None, str, str | None]] = {
    "AWS::SNS::Topic": ("TopicName", "arn", "arn:{partition}:sns:{region}:{account}:{name}"),
    "AWS::SQS::Queue": ("QueueName", "url", "arn:{partition}:sqs:{region}:{account}:{name}"),
    "AWS::KMS::Key": (None, "id", "arn:{partition}:kms:{region}:{account}:key/{id}"),
    "AWS::Events::EventBus": (
        "Name",
        "name",
        "arn:{partition}:events:{region}:{account}:event-bus/{name}",
    ),
    "AWS::Events::Rule": ("Name", "name", "arn:{partition}:events:{region}:{account}:rule/{name}"),
    "AWS::IAM::Role": ("RoleName", "name", "arn:{partition}:iam::{account}:role{path}{name}"),
    "AWS::IAM::ManagedPolicy": (
        "ManagedPolicyName",
        "arn",
        "arn:{partition}:iam::{account}:policy{path}{name}",
    ),
    "AWS::Lambda::Function": (
        "FunctionName",
        "name",
        "arn:{partition}:lambda:{region}:{account}:function:{name}",
    ),
    "AWS::Lambda::EventSourceMapping": (
        None,
        "id",
        "arn:{partition}:lambda:{region}:{account}:event-source-mapping:{id}",
    ),
    # GetAtt Arn of a log group ends in ":*" (AWS::Logs::LogGroup, "Return values").
    "AWS::Logs::LogGroup": (
        "LogGroupName",
        "name",
        "arn:{partition}:logs:{region}:{account}:log-group:{name}:*",
    ),
    "AWS::Scheduler::Schedule": (
        "Name",
        "name",
        "arn:{partition}:scheduler:{region}:{account}:schedule/{group}/{name}",
    ),
    "AWS::CloudWatch::Alarm": (
        "AlarmName",
        "name",
        "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}",
    ),
    # A dashboard is global: no Region in its ARN (Service Authorization Reference, CloudWatch).
    "AWS::CloudWatch::Dashboard": (
        "DashboardName",
        "name",
        "arn:{partition}:cloudwatch::{account}:dashboard/{name}",
    ),
    "AWS::SSM::Parameter": (
        "Name",
        "name",
        "arn:{partition}:ssm:{region}:{account}:parameter/{name}",
    ),
    # Ref of a layer version is its ARN, ending in the version number (AWS::Lambda::LayerVersion,
    # "Return values"); a new layer's first version is 1.
    "AWS::Lambda::LayerVersion": (
        "LayerName",
        "arn",
        "arn:{partition}:lambda:{region}:{account}:layer:{name}:1",
    ),
    # S3 bucket ARNs have no Region or account (Amazon S3 User Guide, "Policy resources").
    "AWS::S3::Bucket": ("BucketName", "name", "arn:{partition}:s3:::{name}"),
    "AWS::SNS::Subscription": (None, "arn", "arn:{partition}:sns:{region}:{account}:{topic}:{id}"),
    # StackSets (organisation delivery, members.py): Ref and GetAtt StackSetId return
    # "<name>:<uuid>" (AWS::CloudFormation::StackSet, "Return values"); the ARN is
    # arn:...:stackset/<name>:<uuid> (Service Authorization Reference, AWS CloudFormation).
    "AWS::CloudFormation::StackSet": (
        "StackSetName",
        "stackset-id",
        "arn:{partition}:cloudformation:{region}:{account}:stackset/{name}:{id}",
    ),
    # Organizations ARNs name the organization (o-...), unknown at synth time, and the policy
    # id (p-..., random): Organizations User Guide, "ARN formats".
    "AWS::Organizations::Policy": (
        None,
        "id",
        "arn:{partition}:organizations::{account}:policy/" + ORGANIZATION_ID + "/"
        "service_control_policy/p-{id}",
    ),
}
# Types with no ARN of their own: the resources they change are the ones they reference.
ATTACHMENT_TYPES = frozenset(
    {
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Events::EventBusPolicy",
        "AWS::Lambda::Permission",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::IAM::Policy",
        "AWS::S3::BucketPolicy",
    }
)
# Where a member template (organisation delivery) is resolved as deployed.
MEMBER_ACCOUNT = "123456789012"
MEMBER_REGION = "us-east-1"
PSEUDO_PARAMETERS = {"AWS::Partition": PARTITION, "AWS::URLSuffix": "amazonaws.com"}


@dataclass(frozen=True)
class SynthesizedStack:
    name: str
    account: str
    region: str
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic replaced by what CloudFormation would put there."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
            ((key, argument),) = value.items()
            return self._intrinsic(key, argument)
        return {k: self.resolve(v) for k, v in value.items()}

    def _intrinsic(self, key: str, argument: Any) -> Any:
        if key == "Ref":
            return self._ref(argument)
        if key == "Fn::GetAtt":
            logical_id, attribute = (
                argument if isinstance(argument, list) else argument.split(".", 1)
            )
            return self._get_att(logical_id, attribute)
        if key == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self.resolve(p)) for p in parts)
        if key == "Fn::Sub" and isinstance(argument, str):
            return self._sub(argument)
        raise NotImplementedError(f"{self.name}: intrinsic {key} is not resolved here")

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        name_property = _type_row(self.name, logical_id, resource["Type"])[0]
        given = resource.get("Properties", {}).get(name_property) if name_property else None
        if given is not None:
            return str(self.resolve(given))
        return f"{self.name}-{logical_id}-{GENERATED_SUFFIX}"

    def arn(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        name_property, _, arn_format = _type_row(self.name, logical_id, resource["Type"])
        properties = self.resolve(resource.get("Properties", {}))
        name = self.physical_name(logical_id) if name_property else ""
        if resource["Type"] == "AWS::Events::Rule" and "EventBusName" in properties:
            bus = properties["EventBusName"].rsplit("/", 1)[-1]
            if bus != "default":
                name = f"{bus}/{name}"
        if resource["Type"] == "AWS::SSM::Parameter":
            name = name.removeprefix("/")
        assert arn_format is not None
        return arn_format.format(
            partition=PARTITION,
            region=self.region,
            account=self.account,
            name=name,
            id=RANDOM_ID,
            path=properties.get("Path", "/"),
            group=properties.get("GroupName", "default"),
            topic=str(properties.get("TopicArn", "")).rsplit(":", 1)[-1],
        )

    def has_arn(self, logical_id: str) -> bool:
        row = _TYPES.get(self.resources[logical_id]["Type"])
        return row is not None and row[2] is not None

    def references(self, logical_id: str) -> list[str]:
        """Logical ids of the template's resources this resource's properties refer to."""
        found: list[str] = []
        _collect_references(self.resources[logical_id].get("Properties", {}), found)
        return [r for r in dict.fromkeys(found) if r in self.resources]

    def _ref(self, target: str) -> str:
        pseudo = {
            **PSEUDO_PARAMETERS,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{self.region}:{self.account}:"
            f"stack/{self.name}/{RANDOM_ID}",
        }
        if target in pseudo:
            return pseudo[target]
        resource = self.resources.get(target)
        if resource is None:
            raise KeyError(f"{self.name}: Ref to {target}, which is no resource of the stack")
        returns = _type_row(self.name, target, resource["Type"])[1]
        name = self.physical_name(target)
        return {
            "arn": lambda: self.arn(target),
            "url": lambda: f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}",
            "id": lambda: RANDOM_ID,
            "name": lambda: name,
            "stackset-id": lambda: f"{name}:{RANDOM_ID}",
        }[returns]()

    def _sub(self, text: str) -> str:
        """Fn::Sub's string form: ${Name} is a pseudo parameter's or a resource's Ref,
        ${Id.Attribute} a GetAtt (CloudFormation User Guide, "Fn::Sub")."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(self._get_att(*name.split(".", 1)) if "." in name else self._ref(name))

        return re.sub(r"\$\{([^}!][^}]*)\}", value, text)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "StackSetId":  # what Ref returns too (AWS::CloudFormation::StackSet)
            return self._ref(logical_id)
        if attribute != "Arn":
            raise NotImplementedError(f"{self.name}: GetAtt {logical_id}.{attribute}")
        return self.arn(logical_id)


@dataclass(frozen=True)
class PolicyDocument:
    where: str  # stack, resource and property, for messages
    document: dict[str, Any]


def load_stacks(outdir: str | Path) -> list[SynthesizedStack]:
    """Every CloudFormation stack of the cloud assembly at `outdir`."""
    manifest = json.loads((Path(outdir) / "manifest.json").read_text())
    stacks = []
    for name, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        account, region = artifact["environment"].removeprefix("aws://").split("/")
        template = json.loads((Path(outdir) / artifact["properties"]["templateFile"]).read_text())
        stacks.append(SynthesizedStack(name, account, region, template))
    return stacks


def load_member_templates(outdir: str | Path) -> list[SynthesizedStack]:
    """The StackSet templates of an organisation fleet (members.py): in the cloud assembly but
    with no stack artifact of their own (stack_set_assets.py), resolved as if deployed in
    member MEMBER_ACCOUNT in MEMBER_REGION."""
    stacks = {s.name for s in load_stacks(outdir)}
    return [
        SynthesizedStack(
            path.name.removesuffix(".template.json"),
            MEMBER_ACCOUNT,
            MEMBER_REGION,
            json.loads(path.read_text()),
        )
        for path in sorted(Path(outdir).glob("*.template.json"))
        if path.name.removesuffix(".template.json") not in stacks
    ]


@dataclass(frozen=True)
class RolePolicies:
    """A role's permissions policies as IAM holds them: inline (the role's `Policies` and every
    AWS::IAM::Policy naming it) and attached managed (the role's `ManagedPolicyArns` and every
    AWS::IAM::ManagedPolicy naming it in `Roles`), resolved."""

    where: str
    inline: list[dict[str, Any]]
    managed: dict[str, dict[str, Any]]  # the stack's managed policies, by logical id
    attached: list[str]  # every attached managed policy's ARN, the stack's and AWS's

    @property
    def document(self) -> dict[str, Any]:
        """Every statement in one document: IAM evaluates a role's policies together."""
        documents = [*self.inline, *self.managed.values()]
        return {
            "Version": "2012-10-17",
            "Statement": [s for d in documents for s in _as_list(d["Statement"])],
        }


def find_role_policies(stack: SynthesizedStack) -> dict[str, RolePolicies]:
    """Every role of the stack with its permissions policies, by the role's logical id."""
    roles = {
        logical_id: RolePolicies(f"{stack.name}/{logical_id}", [], {}, [])
        for logical_id, resource in stack.resources.items()
        if resource["Type"] == "AWS::IAM::Role"
    }
    managed: dict[str, dict[str, Any]] = {}
    for logical_id, resource in stack.resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            managed[stack.arn(logical_id)] = {"id": logical_id, **properties}
    for logical_id, resource in stack.resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            role = roles[logical_id]
            role.inline.extend(
                stack.resolve(p["PolicyDocument"]) for p in properties.get("Policies", [])
            )
            role.attached.extend(stack.resolve(properties.get("ManagedPolicyArns", [])))
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for ref in properties.get("Roles", []):
                role = roles[ref["Ref"]]
                if resource["Type"] == "AWS::IAM::Policy":
                    role.inline.append(stack.resolve(properties["PolicyDocument"]))
                else:
                    role.attached.append(stack.arn(logical_id))
    for role in roles.values():
        for arn in dict.fromkeys(role.attached):
            if arn in managed:
                policy = managed[arn]
                role.managed[policy["id"]] = stack.resolve(policy["PolicyDocument"])
    return roles


def list_guard_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The guard role's statements as `template` writes them (intrinsics unresolved): those of
    the managed policies attached to it (runawaytrain_stack/guard.py), in template order."""
    resources = template["Resources"]
    (role_id,) = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role" and logical_id.startswith("GuardRole")
    ]
    attached = [arn["Ref"] for arn in resources[role_id]["Properties"].get("ManagedPolicyArns", [])]
    attached += [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
        and {"Ref": role_id} in resource["Properties"].get("Roles", [])
    ]
    return [
        statement
        for logical_id in attached
        for statement in resources[logical_id]["Properties"]["PolicyDocument"]["Statement"]
    ]


def find_guard_role(stack: SynthesizedStack) -> RolePolicies:
    """The guard role's policies, resolved (its `document`: every statement)."""
    (role,) = [
        role
        for logical_id, role in find_role_policies(stack).items()
        if logical_id.startswith("GuardRole")
    ]
    return role


def find_policy_documents(stack: SynthesizedStack) -> Iterator[PolicyDocument]:
    """Every IAM policy document in the stack, resolved: anything with a Statement (role,
    managed, inline, trust, topic, queue, key and bus policies), and an SCP's Content."""
    for logical_id, resource in stack.resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Organizations::Policy":
            content = properties["Content"]
            document = json.loads(content) if isinstance(content, str) else content
            yield PolicyDocument(f"{stack.name}/{logical_id} Content", stack.resolve(document))
            continue
        for path, document in _walk_documents(properties, ""):
            where = f"{stack.name}/{logical_id}{path or ' (properties)'}"
            yield PolicyDocument(where, stack.resolve(document))


def _walk_documents(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        if "Statement" in value:
            yield path, value
            return
        for key, item in value.items():
            yield from _walk_documents(item, f"{path}.{key}" if path else f" {key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            name = item.get("PolicyName") if isinstance(item, dict) else None
            yield from _walk_documents(item, f"{path}[{name or index}]")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _collect_references(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            found.append(value["Ref"])
        elif set(value) == {"Fn::GetAtt"}:
            argument = value["Fn::GetAtt"]
            found.append(argument[0] if isinstance(argument, list) else argument.split(".")[0])
        else:
            for item in value.values():
                _collect_references(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_references(item, found)


def _type_row(
    stack: str, logical_id: str, resource_type: str
) -> tuple[str | None, str, str | None]:
    row = _TYPES.get(resource_type)
    if row is None:
        raise NotImplementedError(
            f"{stack}/{logical_id}: resource type {resource_type} has no name, Ref or ARN rule "
            "in tests/stack/template_policies.py; add one from its CloudFormation return values"
        )
    return row
