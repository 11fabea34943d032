"""Capacity that bills with no instance running: counted for the mail, never released.

Dedicated Hosts bill per host for as long as they are allocated, whether instances run on them or
not (EC2 User Guide, "Dedicated Hosts pricing"); an active On-Demand Capacity Reservation bills
for its unused capacity at the on-demand rate (EC2 User Guide, "Capacity Reservation pricing and
billing"). Releasing either could lose capacity someone fought for, so a trip only says they are
still billing, and where.

IAM: ec2:DescribeHosts, ec2:DescribeCapacityReservations (no resource-level permissions).
"""

from __future__ import annotations

from typing import Any

from guard.census import describe_error


def list_idle_capacity(ec2: Any) -> tuple[list[str], str | None]:
    """(["2 Dedicated Host(s)", "1 Capacity Reservation(s) (12 unused instance(s))"], error)."""
    found = []
    try:
        hosts = [
            host
            for page in ec2.get_paginator("describe_hosts").paginate(
                Filter=[{"Name": "state", "Values": ["available", "under-assessment"]}]
            )
            for host in page["Hosts"]
        ]
        reservations = [
            reservation
            for page in ec2.get_paginator("describe_capacity_reservations").paginate(
                Filters=[{"Name": "state", "Values": ["active"]}]
            )
            for reservation in page["CapacityReservations"]
        ]
    except Exception as error:  # informational only: whatever breaks here never blocks a halt
        return found, describe_error(error)
    if hosts:
        found.append(f"{len(hosts)} Dedicated Host(s)")
    if reservations:
        unused = sum(int(r.get("AvailableInstanceCount", 0)) for r in reservations)
        found.append(f"{len(reservations)} Capacity Reservation(s) ({unused} unused instance(s))")
    return found, None
