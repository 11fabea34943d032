"""A quarantined account's Bedrock invocations are refused by its SCPs in the emulator, as AWS
refuses them (strict_aws/bedrock_runtime.py, scps.py); the exempt principals still invoke, and
release lifts the refusal. The probe is the drill's (runawaytrain_cli/invoke_probe.py)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from runawaytrain_cli.invoke_probe import try_invoke_model
from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.names import name_quarantine_policy
from runawaytrain_stack.scp import build_quarantine_policies, render
from strict_aws import StrictAWS
from strict_aws.scps import _condition_holds, denying_policy

REGION = "us-east-1"
PAYER = "123456789012"  # moto's default account: the management account here


class Member:
    def __init__(self) -> None:
        self.payer = boto3.session.Session(region_name=REGION)
        self.organizations = self.payer.client("organizations", region_name=REGION)
        self.organizations.create_organization(FeatureSet="ALL")
        created = self.organizations.create_account(AccountName="prod", Email="p@example.com")
        self.id = created["CreateAccountStatus"]["AccountId"]
        self.operator = self.assume(self.payer, "OrganizationAccountAccessRole")
        fleet = parse_fleet(
            f'payer: {{id: "{PAYER}", name: payer, notify: [a@example.com], ec2_limit: 1}}\n'
            f'accounts:\n  - {{id: "{self.id}", name: prod, notify: [b@example.com], '
            "ec2_limit: 0, break_glass: [breakglass-admin]}\n"
        )
        account = fleet.sub_accounts[0]
        self.policies = []
        for index, document in enumerate(build_quarantine_policies(fleet, account)):
            self.policies.append(
                self.organizations.create_policy(
                    Name=name_quarantine_policy(self.id, index),
                    Description="quarantine",
                    Type="SERVICE_CONTROL_POLICY",
                    Content=render(document),
                )["Policy"]["PolicySummary"]["Id"]
            )

    def assume(self, via: Any, role: str, path: str = "/") -> Any:
        if via is not self.payer:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{self.id}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            via.client("iam").create_role(
                RoleName=role, Path=path, AssumeRolePolicyDocument=json.dumps(trust)
            )
        credentials = via.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{self.id}:role{path}{role}", RoleSessionName="test"
        )["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )

    def quarantine(self, attach: bool) -> None:
        call = self.organizations.attach_policy if attach else self.organizations.detach_policy
        for policy in self.policies:
            call(PolicyId=policy, TargetId=self.id)


@pytest.fixture
def member(strict: StrictAWS) -> Member:
    return Member()


def test_a_quarantined_accounts_invocations_are_refused_and_release_lifts_it(
    member: Member,
) -> None:
    developer = member.assume(member.operator, "ci")
    assert try_invoke_model(developer, REGION) == (True, "amazon.titan-text-lite-v1")

    member.quarantine(attach=True)

    assert try_invoke_model(developer, REGION) == (False, "AccessDeniedException")
    with pytest.raises(ClientError) as refused:
        developer.client("bedrock-runtime").invoke_model(
            modelId="anthropic.claude-3-haiku-20240307-v1:0", body=b"{}"
        )
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Message"] == (
        f"User: arn:aws:sts::{member.id}:assumed-role/ci/test is not authorized to perform: "
        f"bedrock:InvokeModel on resource: arn:aws:bedrock:{REGION}::foundation-model/"
        "anthropic.claude-3-haiku-20240307-v1:0 with an explicit deny in a service control "
        "policy"
    )
    # Converse is authorized as bedrock:InvokeModel: refused the same way.
    with pytest.raises(ClientError) as conversed:
        developer.client("bedrock-runtime").converse(
            modelId="amazon.titan-text-lite-v1",
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
        )
    assert conversed.value.response["Error"]["Code"] == "AccessDeniedException"
    # The exempt: the guard's roles (/runawaytrain/) and the operator role.
    guard = member.assume(member.operator, "runawaytrain-guard-prod", path="/runawaytrain/")
    assert try_invoke_model(guard, REGION)[0]
    assert try_invoke_model(member.operator, REGION)[0]

    member.quarantine(attach=False)

    assert try_invoke_model(developer, REGION) == (True, "amazon.titan-text-lite-v1")


def test_the_management_account_and_service_linked_roles_are_never_bound(member: Member) -> None:
    member.quarantine(attach=True)
    action, model = "bedrock:InvokeModel", f"arn:aws:bedrock:{REGION}::foundation-model/m"
    ci = f"arn:aws:iam::{member.id}:role/ci"
    linked = f"arn:aws:iam::{member.id}:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"
    assert denying_policy(member.id, ci, action, model, REGION) == name_quarantine_policy(
        member.id, 0
    )
    assert denying_policy(member.id, linked, action, model, REGION) is None
    payer_admin = f"arn:aws:iam::{PAYER}:role/admin"
    assert denying_policy(PAYER, payer_admin, action, model, REGION) is None
    assert try_invoke_model(member.payer, REGION)[0]


@pytest.mark.parametrize(
    ("operator", "wanted", "context", "holds"),
    [
        # A key the request lacks: a negated operator holds, a positive one does not.
        ("ArnNotLike", ["arn:aws:iam::1:role/x*"], {}, True),
        ("ArnLike", ["arn:aws:iam::1:role/x*"], {}, False),
        ("StringNotEqualsIfExists", ["a"], {}, True),
        ("StringEqualsIfExists", ["a"], {}, True),
        ("ArnNotLike", ["arn:aws:iam::1:role/x*"], {"k": "arn:aws:iam::1:role/xy"}, False),
        ("ArnNotLike", ["arn:aws:iam::1:role/x*"], {"k": "arn:aws:iam::1:role/y"}, True),
        ("ArnLike", ["arn:aws:iam::*:role/x"], {"k": "arn:aws:iam::1:role/x"}, True),
        ("StringLike", ["a*"], {"k": "ab"}, True),
        ("Null", ["true"], {}, True),
    ],
)
def test_condition_operators_as_iam_evaluates_them(
    operator: str, wanted: list[str], context: dict[str, str], holds: bool
) -> None:
    assert _condition_holds(operator, "k", wanted, context) is holds


def test_an_operator_not_modelled_is_an_error_not_a_guess() -> None:
    with pytest.raises(NotImplementedError):
        _condition_holds("NumericLessThan", "k", ["1"], {"k": "0"})
