"""The notify list: an SNS topic, encrypted with its own key, SSL only, one email per address."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from runawaytrain_stack.fleet_model import Organization


class AlertTopic(Construct):
    """Publishers in this account use the key through IAM (the default key policy delegates to
    the account); AWS services named in `service_publishers` publish as service principals and
    need the key and topic policies to name them, limited to this account."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        emails: Sequence[str],
        display_name: str,
        service_publishers: Sequence[str] = (),
        exempt_principals: Sequence[str] = (),
        topic_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the {display_name} topic",
            enable_key_rotation=True,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=display_name,
            master_key=self.key,
            enforce_ssl=True,
            topic_name=topic_name,
        )
        same_account = {"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
        for service in service_publishers:
            principal = iam.ServicePrincipal(service)
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[principal],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],  # in a key policy, "*" means this key
                    conditions=same_account,
                )
            )
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[principal],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions=same_account,
                )
            )
        if exempt_principals:
            self.key.add_to_resource_policy(_only_the_exempt_manage_the_key(exempt_principals))
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def admit_organisation(self, organization: Organization, role_arns: str) -> None:
        """Let roles of the organisation matching `role_arns` (an ArnLike pattern) publish here.

        Cross-account publishing to an encrypted topic needs both: the topic policy to allow
        sns:Publish and the key policy to allow kms:GenerateDataKey* and kms:Decrypt, since SNS
        uses the key with the publisher's permissions ("the publisher must have ...
        kms:GenerateDataKey* and kms:Decrypt": SNS Developer Guide, "Key management"; a key
        policy must name principals of other accounts itself: AWS KMS Developer Guide,
        "Allowing users in other accounts to use a KMS key"). The organisation's member
        condition admits every account of the target OUs, including those that join later
        (Organization.member_conditions)."""
        conditions = {
            **organization.member_conditions,
            "ArnLike": {"aws:PrincipalArn": role_arns},
        }
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganisationGuardsUseKey",
                principals=[iam.AnyPrincipal()],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions=conditions,
            )
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganisationGuardsPublish",
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=conditions,
            )
        )

    def publisher_statements(self, sid: str) -> list[iam.PolicyStatement]:
        """What a function of this account needs to publish here: the topic (statement `sid`)
        and its key (`UseTopicKey`), as the payer's Lambdas grant it."""
        return [
            iam.PolicyStatement(sid=sid, actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(
                sid="UseTopicKey",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
            ),
        ]


# What silences the topic through its key: a disabled or deleted key fails every publish to the
# encrypted topic, and a new key policy can drop SNS's or the publishers' use of it. CreateGrant
# is left out: a grant only adds use of the key (cryptographic operations, never these), and
# rotation (DisableKeyRotation) weakens the key without silencing anything, but is AWS's
# recommended setting, kept (issue 22).
KEY_MANAGEMENT_ACTIONS = (
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:PutKeyPolicy",
    "kms:DisableKeyRotation",
)


def _only_the_exempt_manage_the_key(exempt: Sequence[str]) -> iam.PolicyStatement:
    """In the key policy: the key's id is random, so the guard-protection SCP cannot name it
    (kms:DisableKey and the others take only the key ARN, arn:...:key/<key id>: Service
    Authorization Reference, AWS KMS). "An explicit deny in any policy overrides any allows"
    (IAM User Guide, "Policy evaluation logic") and a key policy's deny binds the account's root
    user too; PutKeyPolicy is denied as well, so only the exempt principals (scp.py: the guard's
    roles, the CDK roles that deploy the stack, the operator, break-glass) can lift it. The
    principals that deploy keep PutKeyPolicy, so KMS's lockout safety check (a new policy must
    let the caller put the policy again: AWS KMS API Reference, PutKeyPolicy) passes."""
    return iam.PolicyStatement(
        sid="OnlyTheExemptManageTheKey",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(KEY_MANAGEMENT_ACTIONS),
        resources=["*"],  # in a key policy, "*" means this key
        conditions={"ArnNotLike": {"aws:PrincipalArn": list(exempt)}},
    )
