"""Settings as data (issue 23): the document built from accounts.yaml, what `check` requires of
`defaults` under organization:, and the payer stack's store and mail routing."""

from __future__ import annotations

import json
import tempfile

import pytest
from aws_cdk.assertions import Match, Template

from guard.settings import Settings, parse_document, settings_with_document
from runawaytrain_stack.config import ConfigError, parse_fleet
from runawaytrain_stack.fleet import add_fleet_stacks, new_app
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.guard import build_guard_environment
from runawaytrain_stack.mail_routing import MAIL_SUBSCRIPTIONS_PER_STACK
from runawaytrain_stack.names import PAYER_TOPIC_NAME, name_org_guard_roles
from runawaytrain_stack.settings_documents import build_settings_document, serialize
from tests.stack.conftest import ORG_FLEET_YAML, SAMPLE_FLEET_FILE

TOPIC = "arn:aws:sns:us-east-1:222222222222:runawaytrain-notify"
LAUNCH_BLOCK = "arn:aws:iam::222222222222:policy/runawaytrain/runawaytrain-launch-block"
EXPECTED = {
    "notify": "a non-empty list of email addresses",
    "ec2_limit": "a whole number >= 0 (pending + running instances allowed)",
}


def test_the_document_holds_the_defaults_and_each_member_as_the_guard_reads_them(
    org_fleet: Fleet,
) -> None:
    document = build_settings_document(org_fleet)
    assert set(document) == {"defaults", "accounts"}
    assert set(document["accounts"]) == {a.id for a in org_fleet.sub_accounts}  # no payer
    assert document["accounts"]["222222222222"] == {
        "account_name": "prod",
        "blind_runs_to_trip": "3",
        "break_glass": "breakglass-admin",
        "ec2limit": "40",
        "halt": ",".join(sorted(org_fleet.sub_accounts[0].halt)),
        "launch_block": "true",
        "lockout": "users",
        "mode": "enforce",
        "notify": "ops@example.com,oncall@example.com",
        "quarantine": "true",
        "unstoppable": "terminate-spot",
    }
    defaults = document["defaults"]
    assert defaults["ec2limit"] == "3"
    assert defaults["notify"] == "everyone@example.com"
    assert defaults["account_name"] == ""
    assert defaults["quarantine"] == "true"  # an unlisted account is a member
    assert document["accounts"]["333333333333"]["max_gpus"] == "8"
    assert json.loads(serialize(document)) == document


def test_each_setting_equals_what_the_stack_writes_into_the_guards_environment(
    org_fleet: Fleet,
) -> None:
    for account in org_fleet.sub_accounts:
        environment = build_guard_environment(account, TOPIC, [], "", payer_bus="arn:x")
        settings = build_settings_document(org_fleet)["accounts"][account.id]
        shared = set(settings) - {"notify"}
        assert {k: settings[k] for k in shared} == {k: environment[k] for k in shared}


def test_the_guard_accepts_every_document_and_reads_the_settings_from_it(
    org_fleet: Fleet,
) -> None:
    document = build_settings_document(org_fleet)
    base = {  # a template's environment
        "snstopic": TOPIC,
        "ec2limit": "1",
        "launch_block_policy": LAUNCH_BLOCK,
    }
    for account_id, settings in [("defaults", document["defaults"]), *document["accounts"].items()]:
        raw = json.dumps(settings).encode()
        read = settings_with_document(base, parse_document(raw, account_id), account_id)
        assert read == Settings.from_env({**base, **settings})
    prod = settings_with_document(base, document["accounts"]["222222222222"], "prod")
    assert (prod.ec2limit, prod.notify) == (40, ("ops@example.com", "oncall@example.com"))


@pytest.mark.parametrize("missing", ["notify", "ec2_limit"])
def test_organization_requires_notify_and_ec2_limit_in_defaults(missing: str) -> None:
    line = "  notify: [everyone@example.com]\n" if missing == "notify" else "  ec2_limit: 3\n"
    text = ORG_FLEET_YAML.replace(line, "", 1)
    with pytest.raises(ConfigError) as caught:
        parse_fleet(text)
    defaults_line = text.splitlines().index("defaults:") + 1
    assert str(caught.value) == (
        f"accounts.yaml:{defaults_line}: defaults.{missing}: required key is missing: with "
        "organization:, an account of a target OU that accounts does not list is guarded with "
        f"defaults alone; expected {EXPECTED[missing]}"
    )


def test_without_organization_there_are_no_defaults_to_publish() -> None:
    fleet = parse_fleet(SAMPLE_FLEET_FILE.read_text())
    assert fleet.defaults is None
    with pytest.raises(ValueError, match="only with organization"):
        build_settings_document(fleet)


@pytest.fixture(scope="module")
def payer(org_app) -> Template:
    _, stacks = org_app
    return Template.from_stack(stacks.payer)


def test_the_settings_bucket_is_versioned_encrypted_private_and_tls_only(payer: Template) -> None:
    payer.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": "runawaytrain-settings-111111111111",
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": Match.any_value(),
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    policy = next(iter(payer.find_resources("AWS::S3::BucketPolicy").values()))
    sids = {s.get("Sid") for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert {"GuardsReadOwnSettings", "OnlyThePublisherWrites"} <= sids


def test_the_publisher_runs_every_five_minutes_on_the_synthesized_document(
    payer: Template,
) -> None:
    payer.has_resource_properties(
        "AWS::Scheduler::Schedule", {"ScheduleExpression": "rate(5 minutes)"}
    )
    payer.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "settings.handler.handler",
            "Environment": {
                "Variables": {
                    "document_bucket": Match.any_value(),
                    "document_key": Match.string_like_regexp(r"\.json$"),
                    "settings_bucket": Match.any_value(),
                }
            },
        },
    )


def test_member_addresses_are_routed_by_notify_one_value_each(
    payer: Template, org_fleet: Fleet
) -> None:
    found = payer.find_resources("AWS::SNS::Subscription")
    filters = {
        s["Properties"]["Endpoint"]: s["Properties"].get("FilterPolicy") for s in found.values()
    }
    assert filters == {
        "billing@example.com": None,  # the payer's list: everything
        "ops@example.com": None,
        "oncall@example.com": {"notify": ["oncall@example.com"]},
        "dev-team@example.com": {"notify": ["dev-team@example.com"]},
        "everyone@example.com": {"notify": ["everyone@example.com"]},  # the defaults'
    }


def test_the_organisations_guards_may_publish_to_the_payer_topic_and_use_its_key(
    payer: Template,
) -> None:
    payer.has_resource_properties("AWS::SNS::Topic", {"TopicName": PAYER_TOPIC_NAME})
    admitted = {
        "StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"},
        # the target OU and below only: outside it no protection SCP binds
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-abcdef1234/*/ou-ab12-cdef3456/*"]},
        "ArnLike": {"aws:PrincipalArn": name_org_guard_roles()},
    }
    payer.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "sns:Publish", "Condition": admitted})]
                )
            }
        },
    )
    payer.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Condition": admitted,
                            }
                        )
                    ]
                )
            }
        },
    )


def test_without_organization_the_payer_has_no_store_and_routes_by_account(sample_app) -> None:
    _, stacks = sample_app
    payer = Template.from_stack(stacks.payer)
    assert payer.find_resources("AWS::S3::Bucket") == {}
    found = payer.find_resources("AWS::SNS::Subscription")
    assert {
        json.dumps(s["Properties"].get("FilterPolicy"), sort_keys=True) for s in found.values()
    } == {
        "null",
        json.dumps({"account": ["222222222222"]}),
        json.dumps({"account": ["444444444444"]}),
    }


def test_the_guard_role_may_make_exactly_the_calls_the_settings_store_makes(
    org_fleet: Fleet,
) -> None:
    """lambda/guard/settings_store.py reads the two keys and keeps its copy in PARAMETER;
    notify.py publishes to the payer's topic: each allowed in permissions.settings_statements."""
    from guard.settings_store import ACCOUNTS_PREFIX, DEFAULTS_KEY, PARAMETER
    from runawaytrain_stack.names import name_payer_topic_arn, name_settings_bucket
    from runawaytrain_stack.permissions import SETTINGS_PARAMETER, settings_statements

    assert SETTINGS_PARAMETER == PARAMETER
    bucket = name_settings_bucket(org_fleet)
    statements = {
        s["Sid"]: s
        for s in settings_statements(org_fleet.defaults, bucket, name_payer_topic_arn(org_fleet))
    }
    read = statements["ReadOwnSettings"]
    assert read["Action"] == ["s3:GetObject"]
    assert [r.split(":::", 1)[1] for r in read["Resource"]] == [
        f"{bucket}/{ACCOUNTS_PREFIX}${{aws:PrincipalAccount}}.json",
        f"{bucket}/{DEFAULTS_KEY}",
    ]
    assert statements["KeepLastKnownSettings"]["Action"] == ["ssm:GetParameter", "ssm:PutParameter"]
    assert statements["KeepLastKnownSettings"]["Resource"][0].endswith(f":parameter{PARAMETER}")
    assert statements["MailThroughPayer"]["Resource"] == [name_payer_topic_arn(org_fleet)]


def test_more_member_addresses_than_a_stack_holds_go_in_mail_stacks_of_their_own() -> None:
    """Each distinct member address is one subscription; past MAIL_SUBSCRIPTIONS_PER_STACK the
    payer's stack would pass CloudFormation's 500 resources: they move to mail stacks."""
    count = MAIL_SUBSCRIPTIONS_PER_STACK + 50
    lines = [
        "defaults:",
        "  notify: [ops@example.com]",
        "  ec2_limit: 2",
        "organization:",
        "  id: o-abcdef1234",
        "  target_ous: [ou-ab12-cdef3456]",
        "payer:",
        '  id: "100000000000"',
        "  name: payer",
        "accounts:",
    ]
    for index in range(1, count + 1):
        lines += [
            f'  - id: "{100000000000 + index}"',
            f"    name: m{index}",
            f"    notify: [team-{index}@example.com]",
        ]
    fleet = parse_fleet("\n".join(lines) + "\n", "many.yaml")
    with tempfile.TemporaryDirectory() as out:
        app = new_app(outdir=out)
        stacks = add_fleet_stacks(app, fleet)
        assembly = app.synth()
        subscriptions: dict[str, int] = {}
        for stack in assembly.stacks:
            found = Template.from_json(stack.template).find_resources("AWS::SNS::Subscription")
            subscriptions[stack.stack_name] = len(found)
            assert len(stack.template["Resources"]) <= 500, stack.stack_name
    assert stacks.payer is not None
    mail = {name: n for name, n in subscriptions.items() if name.startswith("runawaytrain-mail-")}
    assert len(mail) >= 2
    assert sum(mail.values()) == count  # every member address once; the payer's own list:
    assert subscriptions["runawaytrain-payer"] == 1  # ops@example.com, unfiltered
