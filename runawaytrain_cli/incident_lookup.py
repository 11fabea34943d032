"""Is an incident recorded in the account? Asked before `restore --incident X` changes anything.

A mistyped id would otherwise "restore" nothing ("0 instances started"), exit 0, and still lift
the account's quarantine. The records are the guard's own, read with its code: the incident tags
on principals, instances and Auto Scaling groups (guard.restore.find_incidents), the open
incident (guard.open_incident), and, for a trip that stopped only another service's capacity (a
notebook) or whose EC2 records a restore already undid, what that service's restore would undo
(guard.services.restore_services, as a dry run: it changes nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from guard.clients import ClientFactory
from guard.open_incident import read_open_incident
from guard.regions import resolve_regions
from guard.restore import Accounts, find_incidents, read_records
from runawaytrain_cli.aws_errors import explain_aws_error
from runawaytrain_cli.operator_error import OperatorError, unknown_incident


def require_recorded(incident: str, clients: ClientFactory, where: str, needs: str) -> None:
    """Return when `incident` is recorded in the account; else OperatorError listing those that
    are (`where`: the account as the operator named it; `needs`: its credentials, for a failure)."""
    try:
        found, regions = _recorded_incidents(clients)
    except (ClientError, BotoCoreError) as error:
        raise OperatorError(
            f"{where}: cannot check that incident {incident!r} is recorded there: "
            f"{explain_aws_error(error, needs)}"
        ) from None
    if incident in found:
        return
    # Not on a tag: the incident's own record (ledger.py) is what restore undoes, whatever
    # kind of capacity it holds (a notebook's, an endpoint's).
    account = _accounts(clients, regions)
    records, unreadable = read_records(account, incident)
    if any(not record.empty for record in records.values()):
        return
    also = ""
    if unreadable:  # not seen there, but some Regions' records could not be read
        failed = "; ".join(f"{k}: {v}" for k, v in sorted(unreadable.items())[:3])
        also = f"; {len(unreadable)} Region(s) could not be read, e.g. {failed}"
    raise unknown_incident(incident, where, found, also)


def _accounts(clients: ClientFactory, regions: list[str]) -> Accounts:
    home = clients.home_region
    return Accounts(
        iam=clients.client("iam", home),
        regions=tuple(regions),
        ec2_for=lambda region: clients.client("ec2", region),
        autoscaling_for=lambda region: clients.client("autoscaling", region),
        partition=clients.partition_of(home),
        ssm_for=lambda region: clients.client("ssm", region),
        home_region=home,
    )


def _recorded_incidents(clients: ClientFactory) -> tuple[set[str], list[str]]:
    """(incident ids recorded on principals, instances, groups and the open incident, Regions)."""
    home = clients.home_region
    regions, _ = resolve_regions(clients)
    account = Accounts(
        iam=clients.client("iam", home),
        regions=tuple(regions),
        ec2_for=lambda region: clients.client("ec2", region),
        autoscaling_for=lambda region: clients.client("autoscaling", region),
        partition=clients.partition_of(home),
    )
    found = find_incidents(account)
    still_open, _ = read_open_incident(clients.client("ssm", home), datetime.now(UTC))
    if still_open is not None:
        found.add(still_open.incident)
    return found, list(regions)
