"""What AWS refuses in the synthesized app, computed from the fleet before anything is built.

One function per limit, each computing the quantity the construct it names will write, from the
same pure helpers that construct uses (payer_wiring.py, scp.py, names.py): when a construct
changes what it writes per member, change its function here (tests/stack/test_stack_limits.py
synthesizes fleets and compares). `find_breaches` runs them all; config.py turns each breach into
a config problem, so `runawaytrain check` and `cdk synth` (app.py) refuse the same fleets with
the same one-line message instead of a jsii traceback or a failed deploy.

A limit the payer stack reaches because it grows with every member is structural: the message
says so (issue 23 moves member guards to StackSets and the payer's per-member parts per OU).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import (
    GUARD_EVENT_SOURCE,
    HEARTBEAT_PATH,
    MAX_ACCOUNT_ROWS,
    QUARANTINE_POLICY_PREFIX,
    QUARANTINE_STATE_PATH,
    ROLE_PATH,
    SCHEDULE_NAME,
    WATCHDOG_READER_ROLE_NAME,
    WATCHDOG_STATE_PATH,
)
from runawaytrain_stack.payer_wiring import (
    WATCHED_IN_ENVIRONMENT_BYTES,
    build_bus_statement,
    build_request_pattern,
    build_watched_accounts,
)
from runawaytrain_stack.scp import build_guard_protection_policies, build_quarantine_policies

# --- AWS quotas, each with where it is written ---------------------------------------------
# "The total combination of values in a filter policy must not exceed 150" (SNS Developer Guide,
# "Filter policy constraints in Amazon SNS"); aws-cdk-lib's Subscription throws at synth past it.
MAX_FILTER_VALUES = 150
# Resources per stack: 500 (CloudFormation User Guide, "Understand CloudFormation quotas");
# aws-cdk-lib refuses more at synth (TooManyResourcesInStack).
MAX_STACK_RESOURCES = 500
# "Template body size in an Amazon S3 object": 1 MB (same page). The CDK CLI deploys a stack of
# the default synthesizer from the template file it uploaded to the bootstrap bucket as written
# (aws-cdk-cli deploy-stack.ts makeBodyParameter: `stackTemplateAssetObjectUrl` -> TemplateURL),
# so the written bytes count, not the minified. Whether 1 MB means 10^6 or 2^20 bytes is not
# said: the smaller is taken.
MAX_TEMPLATE_BYTES = 1_000_000
# "Environment variables: 4 KB, for all environment variables associated with the function, in
# aggregate" (Lambda Developer Guide, "Lambda quotas"). Lambda measures the variables as one
# JSON object, quotes escaped: its refusal quotes the "String measured: {"NAME":"value",...}"
# (github-aws-runners/terraform-aws-github-runner#3594).
MAX_LAMBDA_ENVIRONMENT_BYTES = 4096
# "Event bus policy size: 10,240 characters", adjustable (EventBridge User Guide, "Amazon
# EventBridge quotas").
MAX_BUS_POLICY_CHARACTERS = 10_240
# "Event pattern size": 2,048 characters by default, adjustable to 4,096 (EventBridge quotas;
# hashicorp/terraform-provider-aws#33732 quotes the same).
MAX_EVENT_PATTERN_CHARACTERS = 2048

# The payer topic's ARN, which the template only refers to: CloudFormation names the topic
# `<stack name>-<logical id>-<random suffix>` (CloudFormation User Guide, "Name type"), here
# `runawaytrain-payer-AlertsTopic<8 hex>-<13>`, after `arn:<partition>:sns:<region>:<account>:`;
# 110 leaves room for the longest partition and Region names.
TOPIC_ARN_CHARACTERS = 110

STRUCTURAL = (
    "this grows with every listed member in the payer's stack; with organization: (members "
    "delivered by StackSets, docs/deploy.md) the payer's stack does not grow with members"
)


@dataclass(frozen=True)
class Breach:
    """One limit the fleet passes: `key` is the top-level key (or `accounts[i].notify`) the
    error is shown at; `message` names the limit, the figure and what to do."""

    key: tuple[str | int, ...]
    message: str


def find_breaches(fleet: Fleet) -> list[Breach]:
    if fleet.organization is not None:
        # Organisation delivery: mail routed by notify (one value per filter), protection per
        # OU, quarantine SCPs created at the trip, the watchdog's and quarantine's lists in
        # layers, one organisation-wide bus statement (tests/payer/test_payer_organization.py):
        # only what still grows with listed accounts is checked.
        checks: tuple[Any, ...] = (check_billing_resources, check_spend_environment)
        return [breach for check in checks for breach in check(fleet)]
    checks = (
        check_notify_filter_values,
        check_payer_resources,
        check_payer_template_bytes,
        check_billing_resources,
        check_watchdog_environment,
        check_quarantine_environment,
        check_spend_environment,
        check_payer_bus_policy,
        check_payer_event_patterns,
    )
    return [breach for check in checks for breach in check(fleet)]


# --- PayerStack (payer_stack.py): one subscription per member-only address ------------------


MemberScps = dict[str, tuple[list[Any], list[Any]]]
_last_scps: list[tuple[Fleet, MemberScps]] = []  # the last fleet's, by identity


def list_member_scps(fleet: Fleet) -> MemberScps:
    """Each member's (quarantine, guard-protection) SCP documents as quarantine.py creates them.
    Built once per fleet object (about 10 ms a member): the loader's checks and these share
    them; kept by identity, not equality, so a new fleet always gets fresh ones."""
    if _last_scps and _last_scps[0][0] is fleet:
        return _last_scps[0][1]
    scps = {
        account.id: (
            build_quarantine_policies(fleet, account) if account.quarantine else [],
            # With an organization the protection is on the OUs (build_ou_protection_policies).
            build_guard_protection_policies(fleet, account)
            if fleet.protect_guards and fleet.organization is None
            else [],
        )
        for account in fleet.sub_accounts
    }
    _last_scps[:] = [(fleet, scps)]
    return scps


def group_member_emails(fleet: Fleet) -> dict[str, list[str]]:
    """The payer topic's member subscriptions: each address not on the payer's list, with the
    ids of the members it serves (payer_stack.py subscribes each with this filter)."""
    payer = {email.lower() for email in fleet.payer.notify}
    ids: dict[str, list[str]] = defaultdict(list)
    for account in fleet.sub_accounts:
        for email in account.notify:
            if email.lower() not in payer:
                ids[email.lower()].append(account.id)
    return dict(sorted(ids.items()))


def check_notify_filter_values(fleet: Fleet) -> list[Breach]:
    breaches = []
    for email, ids in group_member_emails(fleet).items():
        if len(ids) > MAX_FILTER_VALUES:
            index = next(
                i for i, a in enumerate(fleet.sub_accounts) if a.id == ids[MAX_FILTER_VALUES]
            )
            breaches.append(
                Breach(
                    ("accounts", index, "notify"),
                    f"{email} is the notify address of {len(ids)} member accounts; the payer "
                    f"mails it through one SNS subscription whose filter policy allows at most "
                    f"{MAX_FILTER_VALUES} values (SNS filter policy constraints); add it to "
                    f"payer: notify (which gets every member's mail), or use it for at most "
                    f"{MAX_FILTER_VALUES} accounts",
                )
            )
    return breaches


def count_payer_resources(fleet: Fleet) -> int:
    """The payer stack's resources: AlertTopic (key, topic, topic policy, one subscription per
    address), PayerBus (bus, policy), Watchdog (9), Quarantine (its SCPs; 6 with its Lambda)."""
    if not fleet.sub_accounts:
        return 0
    alerts = 3 + len(fleet.payer.notify) + len(group_member_emails(fleet))
    watchdog = 9  # log group, role, function, invoke config, 2 rules + 2 permissions, alarm
    quarantine = sum(len(q) + len(p) for q, p in list_member_scps(fleet).values())
    if any(a.quarantine for a in fleet.sub_accounts):
        quarantine += 6  # log group, role, function, invoke config, rule, permission
    dashboard = 1  # the fleet dashboard (dashboard.py)
    watched = json.dumps(build_watched_accounts(fleet), sort_keys=True)
    layer = 1 if len(watched) > WATCHED_IN_ENVIRONMENT_BYTES else 0  # the watchdog's list
    return alerts + 2 + watchdog + quarantine + dashboard + layer


def check_payer_resources(fleet: Fleet) -> list[Breach]:
    count = count_payer_resources(fleet)
    if count <= MAX_STACK_RESOURCES:
        return []
    return [
        Breach(
            ("accounts",),
            f"{len(fleet.sub_accounts)} member accounts give the payer stack {count} resources "
            f"(2 to 4 service control policies and a notify subscription each), over "
            f"CloudFormation's {MAX_STACK_RESOURCES} per stack; {STRUCTURAL}",
        )
    ]


# Calibrated on synthesized payer templates (tests/stack/test_stack_limits.py keeps it within 1%
# of the written size): the fixed part, then per member and per member subscription, beside each
# SCP's document as indented JSON, which is most of the template.
PAYER_TEMPLATE_BASE_BYTES = 17_000
PAYER_TEMPLATE_BYTES_PER_MEMBER = 940  # its ids and ARNs in the bus policy, rules, environments
PAYER_TEMPLATE_BYTES_PER_SUBSCRIPTION = 270  # beside its address, written twice (id, endpoint)
PAYER_TEMPLATE_BYTES_PER_SCP = 420  # the CfnPolicy around its Content
# The fleet dashboard (dashboard.py): its widgets, and one row per account up to its limit.
DASHBOARD_BASE_BYTES = 4_650
DASHBOARD_BYTES_PER_ROW = 2_610


def estimate_payer_template_bytes(fleet: Fleet) -> int:
    """The payer template as the CDK writes it (JSON indented by one space per level)."""
    if not fleet.sub_accounts:
        return 0
    documents = [d for q, p in list_member_scps(fleet).values() for d in q + p]
    scps = sum(_written_bytes(d, depth=4) + PAYER_TEMPLATE_BYTES_PER_SCP for d in documents)
    emails = group_member_emails(fleet)
    return (
        PAYER_TEMPLATE_BASE_BYTES
        + PAYER_TEMPLATE_BYTES_PER_MEMBER * len(fleet.sub_accounts)
        + sum(PAYER_TEMPLATE_BYTES_PER_SUBSCRIPTION + 2 * len(e) for e in emails)
        + scps
        + DASHBOARD_BASE_BYTES
        + DASHBOARD_BYTES_PER_ROW * (n if (n := len(fleet.accounts)) <= MAX_ACCOUNT_ROWS else 0)
    )


def check_payer_template_bytes(fleet: Fleet) -> list[Breach]:
    size = estimate_payer_template_bytes(fleet)
    if size <= MAX_TEMPLATE_BYTES:
        return []
    return [
        Breach(
            ("accounts",),
            f"{len(fleet.sub_accounts)} member accounts make the payer stack's template about "
            f"{size:,} bytes (mostly each member's service control policies), over "
            f"CloudFormation's {MAX_TEMPLATE_BYTES:,} for a template deployed from S3; "
            f"{STRUCTURAL}",
        )
    ]


def _written_bytes(value: Any, depth: int) -> int:
    """`value` as JSON.stringify(value, undefined, 1) writes it `depth` levels deep."""
    text = json.dumps(value, indent=1)
    return len(text) + depth * text.count("\n")


# --- BillingStack (billing_stack.py, billing_alarm.py, spend_watch.py) ----------------------


def count_billing_resources(fleet: Fleet) -> int:
    """AlertTopic (3 + one subscription per payer address), the forwarder role, an alarm and a
    forwarding rule per budget, and with `cur:` the spend watcher (7) and a rule per limit."""
    if not fleet.has_billing_stack:
        return 0
    count = 3 + len(fleet.payer.notify) + 1 + 2 * len(fleet.budgeted_accounts)
    if fleet.cur is not None:
        count += 7 + len(fleet.spend_limited_accounts)
    return count


def check_billing_resources(fleet: Fleet) -> list[Breach]:
    count = count_billing_resources(fleet)
    if count <= MAX_STACK_RESOURCES:
        return []
    return [
        Breach(
            ("accounts",),
            f"{len(fleet.budgeted_accounts)} monthly_budget_usd and "
            f"{len(fleet.spend_limited_accounts)} max_spend_per_day_usd settings give the "
            f"billing stack {count} resources (an alarm and a rule per budget, a rule per spend "
            f"limit), over CloudFormation's {MAX_STACK_RESOURCES} per stack; set budgets on at "
            f"most {len(fleet.budgeted_accounts) - (count - MAX_STACK_RESOURCES + 1) // 2} "
            "accounts (the spend watcher's max_spend_per_day_usd covers the rest)",
        )
    ]


# --- Lambda environments of the payer's functions ----------------------------------------


def size_environment(variables: dict[str, str]) -> int:
    """Bytes as Lambda measures them (MAX_LAMBDA_ENVIRONMENT_BYTES)."""
    return len(json.dumps(variables, separators=(",", ":")).encode())


def size_watchdog_environment(fleet: Fleet) -> int:
    """watchdog.py's `environment`, the topic ARN at its longest: the watched accounts' list
    in it while small, else the path of the layer file holding it."""
    watched = json.dumps(build_watched_accounts(fleet), sort_keys=True)
    in_layer = fleet.organization is not None or len(watched) > WATCHED_IN_ENVIRONMENT_BYTES
    return size_environment(
        {
            **(
                {"accounts_file": "/opt/watchdog/accounts.json"}
                if in_layer
                else {"accounts": watched}
            ),
            "snstopic": "x" * TOPIC_ARN_CHARACTERS,
            "heartbeat_path": HEARTBEAT_PATH,
            "state_path": WATCHDOG_STATE_PATH,
            "reader_role": f"{ROLE_PATH}{WATCHDOG_READER_ROLE_NAME}",
            "schedule_name": SCHEDULE_NAME,
        }
    )


def size_quarantine_environment(fleet: Fleet) -> int:
    """quarantine.py's `environment`."""
    quarantined = [a for a in fleet.sub_accounts if a.quarantine]
    if not quarantined:
        return 0
    scps = list_member_scps(fleet)
    pieces = {a.id: len(scps[a.id][0]) for a in quarantined}
    return size_environment(
        {
            "accounts": json.dumps({a.id: a.name for a in quarantined}, sort_keys=True),
            "pieces": json.dumps(pieces, sort_keys=True),
            "policy_prefix": QUARANTINE_POLICY_PREFIX,
            "state_path": QUARANTINE_STATE_PATH,
            "snstopic": "x" * TOPIC_ARN_CHARACTERS,
        }
    )


def size_spend_environment(fleet: Fleet) -> int:
    """spend_watch.py's `environment` (the `limits` grow with each max_spend_per_day_usd)."""
    if fleet.cur is None:
        return 0
    limits = {a.id: a.max_spend_per_day_usd for a in fleet.spend_limited_accounts}
    return size_environment(
        {
            "cur_bucket": fleet.cur.bucket,
            "cur_prefix": fleet.cur.prefix,
            "cur_report": fleet.cur.report_name,
            "limits": json.dumps(limits, sort_keys=True),
            "snstopic": "x" * TOPIC_ARN_CHARACTERS,
            "state_parameter": "/runawaytrain/spend/last-delivery",
        }
    )


def _environment_breach(function: str, size: int, what: str, cure: str) -> list[Breach]:
    if size <= MAX_LAMBDA_ENVIRONMENT_BYTES:
        return []
    return [
        Breach(
            ("accounts",),
            f"the payer's {function} function would have a {size:,}-byte environment ({what}), "
            f"over Lambda's {MAX_LAMBDA_ENVIRONMENT_BYTES:,} bytes for all variables; {cure}",
        )
    ]


def check_watchdog_environment(fleet: Fleet) -> list[Breach]:
    if not fleet.sub_accounts:
        return []
    return _environment_breach(
        "watchdog",
        size_watchdog_environment(fleet),
        f"about 180 bytes per account, {len(fleet.accounts)} accounts",
        STRUCTURAL,
    )


def check_quarantine_environment(fleet: Fleet) -> list[Breach]:
    quarantined = sum(a.quarantine for a in fleet.sub_accounts)
    return _environment_breach(
        "quarantine",
        size_quarantine_environment(fleet),
        f"each quarantined member's id, name and SCP count, {quarantined} members",
        STRUCTURAL,
    )


def check_spend_environment(fleet: Fleet) -> list[Breach]:
    return _environment_breach(
        "spend watcher",
        size_spend_environment(fleet),
        f"one limit per max_spend_per_day_usd, {len(fleet.spend_limited_accounts)} accounts",
        "set max_spend_per_day_usd on fewer accounts",
    )


# --- PayerBus (payer_bus.py) and the payer's rules (watchdog.py, quarantine.py) -------------


def size_bus_policy(fleet: Fleet) -> int:
    """The bus policy as EventBridge keeps it: one statement naming every member twice."""
    statement = build_bus_statement(fleet)
    statement["Sid"] = f"cdk-{statement['Sid']}"  # aws-cdk-lib's EventBus prefixes it
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    return len(json.dumps(policy, separators=(",", ":")))


def check_payer_bus_policy(fleet: Fleet) -> list[Breach]:
    size = size_bus_policy(fleet) if fleet.sub_accounts else 0
    if size <= MAX_BUS_POLICY_CHARACTERS:
        return []
    return [
        Breach(
            ("accounts",),
            f"{len(fleet.sub_accounts)} member accounts make the payer bus's resource policy "
            f"{size:,} characters (each member's root and role path), over EventBridge's "
            f"{MAX_BUS_POLICY_CHARACTERS:,} (adjustable: Service Quotas, Amazon EventBridge, "
            f"'Event bus policy size'); {STRUCTURAL}",
        )
    ]


def size_event_patterns(fleet: Fleet) -> dict[str, int]:
    """The payer's rules that list accounts: the watchdog's heartbeats (every account) and the
    quarantine requests (quarantined members)."""
    heartbeats = {
        "source": [GUARD_EVENT_SOURCE],
        "detail-type": ["Guard Heartbeat"],  # watchdog.py HEARTBEAT
        "account": [a.id for a in fleet.accounts],
    }
    sizes = {"Heartbeats": len(json.dumps(heartbeats, separators=(",", ":")))}
    requests = build_request_pattern(fleet)
    if requests["account"]:
        sizes["Requests"] = len(json.dumps(requests, separators=(",", ":")))
    return sizes


def check_payer_event_patterns(fleet: Fleet) -> list[Breach]:
    if not fleet.sub_accounts:
        return []
    return [
        Breach(
            ("accounts",),
            f"the payer's {rule} rule lists {size:,} characters of account ids, over "
            f"EventBridge's event pattern size of {MAX_EVENT_PATTERN_CHARACTERS:,} (adjustable "
            f"to 4,096: Service Quotas, Amazon EventBridge, 'Event pattern size'); {STRUCTURAL}",
        )
        for rule, size in size_event_patterns(fleet).items()
        if size > MAX_EVENT_PATTERN_CHARACTERS
    ]
