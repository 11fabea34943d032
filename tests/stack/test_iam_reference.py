"""Every IAM policy the app produces, checked against AWS's Service Authorization Reference.

The role, trust and resource policies (topics, queues, keys, buses) of every synthesized
template, any SCP a template holds, and the execution policy `runawaytrain bootstrap-commands
--policy` prints: every action exists, every resource fits a resource type of its actions, no
`*`-only action is granted on a narrower resource, every condition key is supported, and no
ForAllValues condition can be bypassed by leaving the key out (tests/stack/iam_reference.py).
"""

from __future__ import annotations

import json

import pytest

from runawaytrain_cli.main import main as runawaytrain
from tests.stack.iam_reference import Figures, check_policy, is_allowed
from tests.stack.template_policies import find_guard_role, find_policy_documents, load_stacks

FLEETS = ["sample_app", "spend_limits_app", "org_app"]


def printed_execution_policy(capsys: pytest.CaptureFixture[str]) -> dict:
    assert runawaytrain(["bootstrap-commands", "--policy"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("app_fixture", FLEETS)
def test_every_policy_agrees_with_the_service_authorization_reference(
    request: pytest.FixtureRequest, app_fixture: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app, _ = request.getfixturevalue(app_fixture)
    documents = [
        (d.where, d.document) for s in load_stacks(app.outdir) for d in find_policy_documents(s)
    ]
    documents.append(("bootstrap-commands --policy", printed_execution_policy(capsys)))
    problems: list[str] = []
    figures = Figures()
    for where, document in documents:
        found, checked = check_policy(document, where)
        problems += found
        figures.add(checked)
    print(  # shown with -s: the figures the closing note quotes
        f"{app_fixture}: {figures.policies} policies, {figures.statements} statements, "
        f"{len(figures.named)} action entries granting {len(figures.actions)} actions"
    )
    assert figures.policies > len(documents) - 1 > 0
    assert problems == [], "\n".join(problems)


def guard_policy(app) -> dict:
    stack = next(s for s in load_stacks(app.outdir) if s.name == "runawaytrain-guard-prod")
    return find_guard_role(stack).document


@pytest.mark.parametrize(
    ("tag_keys", "allowed"),
    [
        (["runawaytrain:incident"], True),
        (["runawaytrain:incident", "Name"], False),
        (None, False),  # DeleteTags without Tags deletes every tag of the instance
    ],
)
def test_guard_deletes_only_its_own_tags_and_never_all_of_them(
    sample_app, tag_keys: list[str] | None, allowed: bool
) -> None:
    context = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    instance = "arn:aws:ec2:eu-west-1:222222222222:instance/i-0123456789abcdef0"
    policy = guard_policy(sample_app[0])
    assert is_allowed(policy, "ec2:DeleteTags", instance, context) is allowed


WRONG_STATEMENTS = [
    (
        {"Action": "events:PutPermission", "Resource": "arn:aws:events:*:*:event-bus/b"},
        'action events:PutPermission supports only Resource "*"',
    ),
    ({"Action": "ec2:StopInstance", "Resource": "*"}, "ec2:StopInstance is not in the"),
    (
        {"Action": "sns:Publish", "Resource": "arn:aws:sqs:eu-west-1:111111111111:q"},
        "action sns:Publish applies to none of",
    ),
    (
        {"Action": "events:*", "Resource": "arn:aws:sqs:eu-west-1:111111111111:q"},
        "no action of events:* applies to",
    ),
    (
        {
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"StringEquals": {"ec2:InstanceMarketType": "spot"}},
        },
        "kms:CreateGrant does not support condition key ec2:InstanceMarketType",
    ),
    (
        {
            "Action": "ec2:DeleteTags",
            "Resource": "arn:aws:ec2:*:*:instance/*",
            "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": "x:*"}},
        },
        'add "Null": {"aws:TagKeys": "false"}',
    ),
]


@pytest.mark.parametrize(("statement", "problem"), WRONG_STATEMENTS)
def test_the_check_names_what_is_wrong(statement: dict, problem: str) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Sid": "S", **statement}],
    }
    problems, _ = check_policy(document, "stack/Role")
    assert problems, "the check found nothing wrong"
    assert all(p.startswith("stack/Role, statement S: ") for p in problems)
    assert any(problem in p for p in problems), problems


def test_a_member_guards_settings_and_payer_mail_statements_agree_with_the_reference(
    org_fleet,
) -> None:
    """Organisation delivery (permissions.settings_statements): the member template's guard
    role reads its document, keeps its copy and mails through the payer's topic and key."""
    from aws_cdk import Aws

    from runawaytrain_stack.names import name_payer_topic_arn, name_settings_bucket
    from runawaytrain_stack.permissions import settings_statements

    statements = settings_statements(
        org_fleet.defaults, name_settings_bucket(org_fleet), name_payer_topic_arn(org_fleet)
    )
    document = json.loads(
        json.dumps({"Version": "2012-10-17", "Statement": statements}).replace(Aws.PARTITION, "aws")
    )
    assert [s["Sid"] for s in statements] == [
        "ReadOwnSettings",
        "KeepLastKnownSettings",
        "MailThroughPayer",
        "UsePayerTopicKey",
    ]
    found, _ = check_policy(document, "settings_statements")
    assert found == []
