"""accounts.yaml, the fleet: loaded strictly into frozen, typed objects or rejected whole.

Every problem names the file, the line, the key and the value found, and says what was expected.
All problems of one kind are reported together, so a file is fixed in one pass, and nothing is
synthesized from a file with any problem: a guard deployed with a misread limit is worse than
no deployment at all.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
)

from guard.service_names import REVERSIBLE, described, resolve_halt
from guard.settings import Lockout, Mode, Unstoppable  # accept exactly what the guard parses
from runawaytrain_stack.config_errors import ConfigError, Problem, describe_value, format_key
from runawaytrain_stack.fleet_model import (
    DEFAULT_OPERATOR_ROLE,
    Account,
    CurConfig,
    Fleet,
    Organization,
    list_fast_trip_regions,
)
from runawaytrain_stack.regions import validate_region
from runawaytrain_stack.scp import (
    MAX_QUARANTINE_POLICIES,
    MAX_RUNAWAYTRAIN_POLICIES,
    MAX_SCP_CHARACTERS,
    MAX_SCPS_PER_TARGET,
    build_ou_protection_policies,
    policy_size,
)
from runawaytrain_stack.stack_limits import find_breaches, list_member_scps
from runawaytrain_stack.yaml_source import KeyPath, LocatedYaml, YamlSourceError, read_yaml

# EventBridge Scheduler rates are whole minutes; a guard that runs less than daily guards nothing.
MAX_SCHEDULE_MINUTES = 1440

# Pattern sources: AWS account ids are 12 digits (AWS Organizations API, Account.Id); IAM user and
# role names are 1-64 of [\w+=,.@-] (IAM API Reference, CreateUser/CreateRole UserName/RoleName).
ACCOUNT_ID_PATTERN = r"^\d{12}$"
NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
EMAIL_PATTERN = r"^[^@\s\"(),:;<>\[\]]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
PRINCIPAL_PATTERN = r"^[\w+=,.@-]{1,64}$"
# Permission set names: 1-32 of [\w+=,.@-] (IAM Identity Center API Reference, CreatePermissionSet).
PERMISSION_SET_PATTERN = r"^[\w+=,.@-]{1,32}$"
# S3 general purpose bucket names: 3-63 of lower-case letters, digits, dots and hyphens, starting
# and ending with a letter or digit (Amazon S3 User Guide, "Bucket naming rules"). CUR report names
# are 1-256 of [0-9A-Za-z!\-_.*'()] (AWS CUR API Reference, ReportDefinition.ReportName); the
# prefix is an S3 key prefix without leading or trailing slash (ReportDefinition.S3Prefix).
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
REPORT_NAME_PATTERN = r"^[0-9A-Za-z!\-_.*'()]{1,256}$"
PREFIX_PATTERN = r"^(?:[^/\s]+(?:/[^/\s]+)*)?$"


_Text = Annotated[str, Strict()]
_AccountId = Annotated[_Text, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]
_Name = Annotated[_Text, StringConstraints(pattern=NAME_PATTERN)]
_Email = Annotated[_Text, StringConstraints(pattern=EMAIL_PATTERN, max_length=254)]
# Checked by name against botocore's partition data, not by shape (regions.py).
_Region = Annotated[_Text, AfterValidator(validate_region)]
_Principal = Annotated[_Text, StringConstraints(pattern=PRINCIPAL_PATTERN)]
_PermissionSet = Annotated[_Text, StringConstraints(pattern=PERMISSION_SET_PATTERN)]
_Bucket = Annotated[_Text, StringConstraints(pattern=BUCKET_PATTERN)]
_ReportName = Annotated[_Text, StringConstraints(pattern=REPORT_NAME_PATTERN)]
_Prefix = Annotated[_Text, StringConstraints(pattern=PREFIX_PATTERN, max_length=256)]


def _validate_halt_name(name: str) -> str:
    try:
        resolve_halt([name])
    except ValueError:
        guesses = difflib.get_close_matches(name, _halt_names(), n=1)
        hint = f"; did you mean {guesses[0]}?" if guesses else ""
        raise ValueError(f"not a kind of capacity runawaytrain halts{hint}") from None
    return name


def _halt_names() -> list[str]:
    return [REVERSIBLE, "all", *resolve_halt(["all"])]


_HaltName = Annotated[_Text, AfterValidator(_validate_halt_name)]
# Organizations API Reference, "Organization" Id and "OrganizationalUnit" Id patterns.
_OrganizationId = Annotated[_Text, StringConstraints(pattern=r"^o-[a-z0-9]{10,32}$")]
_OuId = Annotated[_Text, StringConstraints(pattern=r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")]


class _Settings(BaseModel):
    """What `defaults` may set and what an account may override."""

    model_config = ConfigDict(extra="forbid")

    notify: Annotated[list[_Email], Field(min_length=1)] | None = None
    ec2_limit: Annotated[int, Strict(), Field(ge=0)] | None = None
    schedule_minutes: Annotated[int, Strict(), Field(ge=1, le=MAX_SCHEDULE_MINUTES)] | None = None
    blind_runs_to_trip: Annotated[int, Strict(), Field(ge=1)] | None = None
    mode: Mode | None = None
    lockout: Lockout | None = None
    launch_block: Annotated[bool, Strict()] | None = None
    break_glass: list[_Principal] | None = None
    home_region: _Region | None = None
    regions: Annotated[list[_Region], Field(min_length=1)] | None = None
    monthly_budget_usd: Annotated[float, Strict(), Field(gt=0)] | None = None
    max_spend_per_day_usd: Annotated[float, Strict(), Field(gt=0)] | None = None
    fast_trip: Annotated[bool, Strict()] | None = None
    unstoppable: Unstoppable | None = None
    halt: list[_HaltName] | None = None
    quarantine: Annotated[bool, Strict()] | None = None
    max_vcpus: Annotated[int, Strict(), Field(ge=0)] | None = None
    max_gpus: Annotated[int, Strict(), Field(ge=0)] | None = None
    max_usd_per_hour: Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)] | None = None


class _Cur(BaseModel):
    """Where the payer's Cost and Usage Report (legacy CUR or CUR 2.0 export) is delivered."""

    model_config = ConfigDict(extra="forbid")

    bucket: _Bucket
    prefix: _Prefix = ""
    report_name: _ReportName


class _Organization(BaseModel):
    """Organisation delivery (docs/deploy.md): members guarded through StackSets from the payer."""

    model_config = ConfigDict(extra="forbid")

    id: _OrganizationId
    target_ous: Annotated[list[_OuId], Field(min_length=1)]
    # The watchdog mails once about an account of the target OUs with no heartbeat this long
    # after joining (lambda/watchdog/joined.py; docs/deploy.md models ~15 min to the first).
    join_minutes: Annotated[int, Field(ge=15, le=1440, strict=True)] = 30


class _Entry(_Settings):
    id: _AccountId
    name: _Name


class _FleetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: _Settings = _Settings()
    cur: _Cur | None = None
    organization: _Organization | None = None
    protect_guards: Annotated[bool, Strict()] = True
    operator_role: _Principal = DEFAULT_OPERATOR_ROLE
    break_glass_permission_sets: list[_PermissionSet] = []
    payer: _Entry
    accounts: list[_Entry] = []


# What each key expects, as the error message says it: (the key's value, one item of a list).
EXPECTED: dict[str, tuple[str, str]] = {
    "id": ('a quoted 12-digit AWS account id, e.g. "111111111111"', ""),
    "name": (
        "lower-case letters, digits and inner hyphens, at most 40 characters, e.g. prod-eu",
        "",
    ),
    "notify": ("a non-empty list of email addresses", "an email address, e.g. ops@example.com"),
    "ec2_limit": ("a whole number >= 0 (pending + running instances allowed)", ""),
    "schedule_minutes": (f"a whole number of minutes from 1 to {MAX_SCHEDULE_MINUTES}", ""),
    "blind_runs_to_trip": (
        "a whole number of runs >= 1 (a Region that held instances and cannot be counted for "
        "this many runs in a row trips the breaker)",
        "",
    ),
    "mode": (" or ".join(m.value for m in Mode), ""),
    "lockout": (", ".join(m.value for m in Lockout), ""),
    "launch_block": ("true or false (unquoted)", ""),
    "break_glass": (
        "a list of IAM user or role names",
        "an IAM user or role name: 1-64 of letters, digits and +=,.@_-",
    ),
    "home_region": ("an AWS region name, e.g. eu-west-1", ""),
    "regions": ("a non-empty list of AWS region names", "an AWS region name, e.g. eu-west-1"),
    "monthly_budget_usd": ("a number of US dollars > 0, e.g. 500", ""),
    "max_spend_per_day_usd": ("a number of US dollars > 0, e.g. 200", ""),
    "fast_trip": ("true or false (unquoted)", ""),
    "unstoppable": (", ".join(m.value for m in Unstoppable), ""),
    "halt": (
        "a list of the kinds of capacity outside EC2 a trip halts (empty: none)",
        described(),
    ),
    "quarantine": ("true or false (unquoted)", ""),
    "protect_guards": ("true or false (unquoted)", ""),
    "operator_role": ("an IAM role name: 1-64 of letters, digits and +=,.@_-", ""),
    "break_glass_permission_sets": (
        "a list of IAM Identity Center permission set names",
        "a permission set name: 1-32 of letters, digits and +=,.@_-",
    ),
    "max_vcpus": ("a whole number >= 0 (vCPUs of pending + running instances allowed)", ""),
    "max_gpus": (
        "a whole number >= 0 (GPUs/accelerators of pending + running instances allowed)",
        "",
    ),
    "max_usd_per_hour": (
        "a number of US dollars >= 0, e.g. 50 (on-demand price per hour of pending + running "
        "instances allowed)",
        "",
    ),
    "cur": ("a mapping with keys bucket, prefix and report_name", ""),
    "organization": ("a mapping with keys id, target_ous and optionally join_minutes", ""),
    "join_minutes": (
        "whole minutes from 15 to 1440: how long an account joining a target OU may stay "
        "without a guard heartbeat before the watchdog mails (default 30)",
        "",
    ),
    "target_ous": (
        "a non-empty list of organizational unit ids",
        "an organizational unit id, e.g. ou-ab12-cdef3456",
    ),
    "bucket": ("an S3 bucket name: 3-63 of a-z, 0-9, dots and hyphens", ""),
    "prefix": ("an S3 key prefix without leading or trailing slash, e.g. cur", ""),
    "report_name": ("a CUR report or export name: 1-256 of letters, digits and !-_.*'()", ""),
    "defaults": ("a mapping of account settings", ""),
    "payer": ("a mapping describing the payer account", ""),
    "accounts": (
        "a list of sub-accounts",
        "a mapping describing one sub-account (id, name, notify, ec2_limit, ...)",
    ),
}
REQUIRED_PER_ACCOUNT = ("notify", "ec2_limit")
# Account keys people write for ours where spelling similarity guesses wrong or not at all
# (`region` is closest to `regions`, but usually means where the guard runs).
MEANT_KEYS = {
    "region": "home_region (the Region the guard runs in) or regions (where fast trip listens)",
    "limit": "ec2_limit",
    "instance_limit": "ec2_limit",
    "email": "notify",
    "emails": "notify",
    "budget": "monthly_budget_usd",
    "dry_run": "mode: dry-run",
}


def load_fleet(path: Path, *, check_limits: bool = True) -> Fleet:
    """Read and validate the fleet file at `path`; raise ConfigError naming every problem
    (`check_limits`: parse_fleet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        problem = Problem(None, "", f"cannot read the file: {reason}")
        raise ConfigError(str(path), [problem]) from None
    return parse_fleet(text, str(path), check_limits=check_limits)


def parse_fleet(text: str, source: str = "accounts.yaml", *, check_limits: bool = True) -> Fleet:
    """Validate fleet YAML `text`; `source` names it in error messages. `check_limits` False
    skips what AWS would refuse of the synthesized stacks (stack_limits.py): for commands that
    read a deployed fleet (status) and for bench/synth.py, which measures such fleets."""
    try:
        located = read_yaml(text)
    except YamlSourceError as error:
        problems = [Problem(p.line, format_key(p.path), p.message) for p in error.problems]
        raise ConfigError(source, problems) from None
    if not isinstance(located.data, dict):
        found = "it is empty" if located.data is None else f"found {describe_value(located.data)}"
        message = f"expected a mapping with keys defaults, payer and accounts; {found}"
        raise ConfigError(source, [Problem(1, "", message)])
    try:
        parsed = _FleetFile.model_validate(located.data)
    except ValidationError as error:
        raise ConfigError(source, [_explain(e, located) for e in error.errors()]) from None
    fleet, problems = _resolve(parsed, located)
    problems += _find_repeats(fleet, located)
    problems += _find_stack_name_clashes(fleet, located)
    problems += _find_oversized_scps(fleet, located)
    problems += _find_unprotected_quarantine(fleet, located)
    if check_limits and not problems:
        problems += _find_stack_limit_breaches(fleet, located)
    if problems:
        # An item repeated in defaults is found once per inheriting account: report it once.
        raise ConfigError(source, dict.fromkeys(problems))
    return fleet


def expected_for(path: KeyPath) -> str:
    names = [part for part in path if isinstance(part, str)]
    if names[-2:] == ["organization", "id"]:
        return "an organization id: o- and 10-32 of a-z, 0-9, e.g. o-a1b2c3d4e5"
    if not names or names[-1] not in EXPECTED:
        return "a valid value"
    whole, item = EXPECTED[names[-1]]
    return item if isinstance(path[-1], int) and item else whole


def _explain(error: Any, located: LocatedYaml) -> Problem:
    path: KeyPath = tuple(error["loc"])
    key = format_key(path)
    if error["type"] == "extra_forbidden":
        return Problem(located.line_of_key(path), key, _unknown_key_message(path, error["input"]))
    if error["type"] == "missing":
        message = f"required key is missing; expected {expected_for(path)}"
        return Problem(located.line_of_value(path[:-1]), key, message)
    expected = expected_for(path)
    if path and path[-1] == "id" and isinstance(error["input"], int):
        expected += " (quote it: unquoted, YAML reads it as a number)"
    found = f"found {describe_value(error['input'])}"
    if error["type"] == "value_error":  # a validator's own explanation (e.g. regions.py)
        found += f": {error['ctx']['error']}"
    return Problem(located.line_of_value(path), key, f"expected {expected}, {found}")


def _unknown_key_message(path: KeyPath, value: Any) -> str:
    if len(path) == 1:
        valid = list(_FleetFile.model_fields)
    elif path[0] == "cur":
        valid = list(_Cur.model_fields)
    elif path[0] == "defaults":
        valid = list(_Settings.model_fields)
    else:
        valid = list(_Entry.model_fields)
    meant = MEANT_KEYS.get(str(path[-1])) if "home_region" in valid else None
    guess = [meant] if meant else difflib.get_close_matches(str(path[-1]), valid, n=1)
    hint = f"; did you mean {guess[0]}?" if guess else ""
    return f"unknown key (value {describe_value(value)}); valid keys: {', '.join(valid)}{hint}"


def _resolve(parsed: _FleetFile, located: LocatedYaml) -> tuple[Fleet, list[Problem]]:
    """Fill each account's unset keys from defaults, then from the built-in defaults."""
    problems: list[Problem] = []
    entries = [(("payer",), parsed.payer)]
    entries += [(("accounts", index), entry) for index, entry in enumerate(parsed.accounts)]
    accounts = []
    for path, entry in entries:
        values = parsed.defaults.model_dump(exclude_none=True)
        values.update(entry.model_dump(exclude_none=True))
        for key in REQUIRED_PER_ACCOUNT:
            if key not in values:
                message = (
                    "required key is missing (set it here or in defaults); "
                    f"expected {expected_for((key,))}"
                )
                key_path = format_key((*path, key))
                problems.append(Problem(located.line_of_value(path), key_path, message))
                values[key] = 0 if key == "ec2_limit" else []
        for key in ("notify", "break_glass", "regions"):
            values[key] = tuple(values.get(key, ()))
        is_payer = path == ("payer",)
        values.setdefault("quarantine", not is_payer)
        values["halt"] = resolve_halt(values.get("halt", [REVERSIBLE]))
        if is_payer:
            problems += _check_payer(values, located)
        accounts.append(Account(**values))
    cur = None if parsed.cur is None else CurConfig(**parsed.cur.model_dump())
    if cur is None and any(a.max_spend_per_day_usd is not None for a in accounts):
        first = next(
            (*path, "max_spend_per_day_usd")
            for (path, _), account in zip(entries, accounts, strict=True)
            if account.max_spend_per_day_usd is not None
        )
        owner = first if first in located.value_lines else ("defaults", "max_spend_per_day_usd")
        message = (
            "is set but the fleet has no cur: (the spend watcher reads the Cost and Usage "
            "Report); add cur: {bucket: ..., prefix: ..., report_name: ...} at the top level"
        )
        problems.append(Problem(located.line_of_value(owner), format_key(owner), message))
    defaults = None
    if parsed.organization is not None:
        defaults, missing = _resolve_org_defaults(parsed, located)
        problems += missing
    fleet = Fleet(
        payer=accounts[0],
        sub_accounts=tuple(accounts[1:]),
        cur=cur,
        protect_guards=parsed.protect_guards,
        operator_role=parsed.operator_role,
        break_glass_permission_sets=tuple(parsed.break_glass_permission_sets),
        organization=(
            None
            if parsed.organization is None
            else Organization(
                id=parsed.organization.id,
                target_ous=tuple(parsed.organization.target_ous),
                join_minutes=parsed.organization.join_minutes,
            )
        ),
        defaults=defaults,
    )
    return fleet, problems


# The id and name of the defaults' Account (fleet_model.Fleet.defaults): never an account's.
DEFAULTS_ID = "000000000000"
DEFAULTS_NAME = "defaults"


def _resolve_org_defaults(
    parsed: _FleetFile, located: LocatedYaml
) -> tuple[Account, list[Problem]]:
    """With `organization:`, every account in a target OU that `accounts` does not list is
    guarded with `defaults` alone (docs/settings.md), so defaults must hold what every account
    needs (REQUIRED_PER_ACCOUNT); filled in like a member's."""
    values = parsed.defaults.model_dump(exclude_none=True)
    problems = []
    for key in REQUIRED_PER_ACCOUNT:
        if key not in values:
            message = (
                "required key is missing: with organization:, an account of a target OU that "
                "accounts does not list is guarded with defaults alone; "
                f"expected {expected_for((key,))}"
            )
            line = located.line_of_key(("defaults",)) if "defaults" in located.data else 1
            problems.append(Problem(line, format_key(("defaults", key)), message))
            values[key] = 0 if key == "ec2_limit" else []
    for key in ("notify", "break_glass", "regions"):
        values[key] = tuple(values.get(key, ()))
    values.setdefault("quarantine", True)  # a member's default
    values["halt"] = resolve_halt(values.get("halt", [REVERSIBLE]))
    return Account(id=DEFAULTS_ID, name=DEFAULTS_NAME, **values), problems


def _check_payer(values: dict[str, Any], located: LocatedYaml) -> list[Problem]:
    """The payer is the management account: no SCP binds it (Organizations User Guide, "Service
    control policies": SCPs "don't affect users or roles in the management account"), so nothing
    but its own break_glass principals lets a person back in after a lockout there."""
    problems = []
    if values.get("quarantine"):
        key = (
            ("payer", "quarantine")
            if ("payer", "quarantine") in located.value_lines
            else (
                "defaults",
                "quarantine",
            )
        )
        message = (
            "cannot be true for the payer: service control policies do not apply to the "
            "management account; set quarantine: false under payer"
        )
        problems.append(Problem(located.line_of_value(key), format_key(key), message))
    lockout = values.get("lockout", Lockout.NONE)
    rescuers = [n for n in values["break_glass"] if n != DEFAULT_OPERATOR_ROLE]
    if lockout is not Lockout.NONE and not rescuers:
        key = (
            ("payer", "lockout")
            if ("payer", "lockout") in located.value_lines
            else (
                "defaults",
                "lockout",
            )
        )
        message = (
            f"lockout {lockout.value} on the payer needs a break_glass principal that exists in "
            "the management account (OrganizationAccountAccessRole exists only in member "
            "accounts), or no one could restore the payer after a trip; add one under "
            "payer: break_glass, or set payer: lockout: none"
        )
        problems.append(Problem(located.line_of_value(key), format_key(key), message))
    return problems


def _find_repeats(fleet: Fleet, located: LocatedYaml) -> list[Problem]:
    """Ids and names must be unique across the fleet; list items unique within their list."""
    paths = [("payer",)] + [("accounts", i) for i in range(len(fleet.sub_accounts))]
    problems: list[Problem] = []
    for key in ("id", "name"):
        seen: dict[str, KeyPath] = {}
        for path, account in zip(paths, fleet.accounts, strict=True):
            value = getattr(account, key)
            if value in seen:
                first = (*seen[value], key)
                message = (
                    f"repeats {describe_value(value)} from {format_key(first)} "
                    f"(line {located.line_of_value(first)}); every account needs its own {key}"
                )
                problems.append(
                    Problem(located.line_of_value((*path, key)), format_key((*path, key)), message)
                )
            seen.setdefault(value, path)
    for path, account in zip(paths, fleet.accounts, strict=True):
        for key in ("notify", "break_glass", "regions"):
            problems += _find_repeated_items(path, key, getattr(account, key), located)
    return problems


def _find_stack_name_clashes(fleet: Fleet, located: LocatedYaml) -> list[Problem]:
    """Fast-trip stacks are named after their account and Region (`runawaytrain-guard-<name>-
    <region>`, names.py), so an account named `<other name>-<region>` would name the same stack."""
    paths = [("payer",)] + [("accounts", i) for i in range(len(fleet.sub_accounts))]
    paths_by_name = {a.name: path for path, a in zip(paths, fleet.accounts, strict=True)}
    problems = []
    for account in fleet.accounts:
        for region in list_fast_trip_regions(account):
            clash = paths_by_name.get(f"{account.name}-{region}")
            if clash is None or region == account.home_region:
                continue
            key = (*clash, "name")
            message = (
                f"names the same stack as the fast trip of account {account.name} in {region} "
                f"(runawaytrain-guard-{account.name}-{region}); rename this account, or set "
                f"fast_trip: false or regions: on {account.name}"
            )
            problems.append(Problem(located.line_of_value(key), format_key(key), message))
    return problems


def _find_oversized_scps(fleet: Fleet, located: LocatedYaml) -> list[Problem]:
    """Each member's SCPs name its break_glass principals; AWS refuses an SCP over 5,120
    characters (Organizations quotas), which would fail the payer stack's deploy, and attaches
    at most 5 to an account, of which the quarantine may take MAX_QUARANTINE_POLICIES (scp.py)."""
    problems = _find_oversized_ou_protection(fleet, located)
    scps = list_member_scps(fleet)  # built once; stack_limits.py reads them again
    for index, account in enumerate(fleet.sub_accounts):
        quarantine, documents = scps[account.id]
        size = max((policy_size(document) for document in documents + quarantine), default=0)
        path = ("accounts", index, "break_glass")
        owner = path if path in located.value_lines else ("defaults", "break_glass")
        if size > MAX_SCP_CHARACTERS:
            message = (
                f"{len(account.break_glass)} break-glass principals make {account.name}'s "
                f"service control policy {size} characters, over the {MAX_SCP_CHARACTERS} AWS "
                "allows; list fewer (one break-glass role is enough)"
            )
            problems.append(Problem(located.line_of_value(owner), format_key(owner), message))
        elif len(quarantine) > MAX_QUARANTINE_POLICIES:
            message = (
                f"{len(account.break_glass)} break-glass principals make {account.name}'s "
                f"quarantine {len(quarantine)} service control policies, over the "
                f"{MAX_QUARANTINE_POLICIES} an account has room for beside FullAWSAccess and "
                "the guard protection (AWS attaches at most 5); list fewer (one break-glass "
                "role is enough)"
            )
            problems.append(Problem(located.line_of_value(owner), format_key(owner), message))
        elif len(documents) + len(quarantine) > MAX_RUNAWAYTRAIN_POLICIES:
            message = (
                f"{len(account.break_glass)} break-glass principals make {account.name}'s "
                f"guard protection {len(documents)} and quarantine {len(quarantine)} service "
                f"control policies, over the {MAX_RUNAWAYTRAIN_POLICIES} an account has room for "
                "beside FullAWSAccess (AWS attaches at most 5); list fewer (one break-glass "
                "role is enough)"
            )
            problems.append(Problem(located.line_of_value(owner), format_key(owner), message))
    return problems


def _find_oversized_ou_protection(fleet: Fleet, located: LocatedYaml) -> list[Problem]:
    """With an `organization` the guard protection is one set of SCPs on each target OU
    (scp.py build_ou_protection_policies) naming every listed account's break_glass principals:
    each document within 5,120 characters, and the set within the 5 SCPs an OU holds, less the
    FullAWSAccess it must keep (Organizations quotas: "Maximum number of SCPs attached to a root,
    OU or account: 5", counted per target: what an account inherits from its OUs is attached to
    them, not to it)."""
    if fleet.organization is None or not fleet.protect_guards:
        return []
    documents = build_ou_protection_policies(fleet)
    size = max(policy_size(document) for document in documents)
    room = MAX_SCPS_PER_TARGET - 1
    if size <= MAX_SCP_CHARACTERS and len(documents) <= room:
        return []
    listed = [a for a in fleet.sub_accounts if a.break_glass]
    names = sum(len(a.break_glass) for a in listed)
    found = (
        f"a statement of {size} characters, over the {MAX_SCP_CHARACTERS} AWS allows per SCP"
        if size > MAX_SCP_CHARACTERS
        else f"{len(documents)} SCPs, over the {room} an OU has room for beside FullAWSAccess "
        f"(AWS attaches at most {MAX_SCPS_PER_TARGET})"
    )
    message = (
        f"the guard protection on the target OUs names the {names} break-glass principals of "
        f"{len(listed)} listed accounts and needs {found}; give those accounts fewer break_glass "
        "names, or use break_glass_permission_sets (exempt in every account, named once)"
    )
    return [Problem(located.line_of_value(("organization",)), "organization", message)]


def _find_unprotected_quarantine(fleet: Fleet, located: LocatedYaml) -> list[Problem]:
    """The quarantine SCPs and the payer's bus admit every role under /runawaytrain/ (the guards'
    path); only the guard-protection SCP keeps anyone else from creating a role there. Without
    it, a role an admin creates under that path is exempt from the quarantine and may put events
    on the payer's bus (forged heartbeats, a forged release): refused (issue 22, item 3)."""
    quarantined = [account.name for account in fleet.sub_accounts if account.quarantine]
    if fleet.protect_guards or not quarantined:
        return []
    message = (
        f"is false while quarantine is true for {', '.join(quarantined)}: without the "
        "guard-protection SCP anyone with admin rights in a member account can create a role "
        "under /runawaytrain/, which the quarantine SCP exempts and the payer's bus admits, and "
        "so undo the quarantine; remove protect_guards: false (true is the default), or set "
        "quarantine: false for those accounts (docs/quarantine.md)"
    )
    return [Problem(located.line_of_value(("protect_guards",)), "protect_guards", message)]


def _find_stack_limit_breaches(fleet: Fleet, located: LocatedYaml) -> list[Problem]:
    """What CloudFormation, Lambda, SNS or EventBridge would refuse of the stacks this fleet
    synthesizes (stack_limits.py), at the key that makes it grow."""
    problems = []
    for breach in find_breaches(fleet):
        path: KeyPath = breach.key
        if path not in located.value_lines and path[-1] == "notify":
            path = ("defaults", "notify")  # inherited
        line = located.line_of_value(path) if len(path) > 1 else located.line_of_key(path)
        problems.append(Problem(line, format_key(path), breach.message))
    return problems


def _find_repeated_items(
    path: KeyPath, key: str, items: tuple[str, ...], located: LocatedYaml
) -> list[Problem]:
    # A key the account inherits from defaults is reported where defaults sets it.
    owner = path if (*path, key) in located.value_lines else ("defaults",)
    problems = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        folded = item.lower()  # email domains and IAM names compare case-insensitively
        if folded in seen:
            item_path = (*owner, key, index)
            message = f"repeats {describe_value(item)} from {key}[{seen[folded]}]; list it once"
            line = located.line_of_value(item_path)
            problems.append(Problem(line, format_key(item_path), message))
        seen.setdefault(folded, index)
    return problems
