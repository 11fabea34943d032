"""Lightsail managed databases: counted with the price of their bundle, never stopped or deleted
by the guard (as Lightsail instances, lightsail_instances.py).

"Lightsail instances and managed databases incur charges until they are deleted. These
resources accrue charges even when they are in the stopped state" (Lightsail Developer Guide,
FAQ "Billing and account management"), and DeleteRelationalDatabase ends the database (its data
only kept in a final snapshot if asked: API Reference, DeleteRelationalDatabase). So the kind is
irreversible and its halt changes nothing: each database is an error in the mail while the
incident is open.

Census: GetRelationalDatabases (every state), then, only if any, GetRelationalDatabaseBundles
with includeInactive for each bundle's monthly price and vCPUs; usd_per_hour = price / 744
hours, as for instances. Nothing running: one call a region.

IAM: lightsail:GetRelationalDatabases and lightsail:GetRelationalDatabaseBundles (no
resource-level permissions: Service Authorization Reference, "Actions defined by Amazon
Lightsail").
"""

from __future__ import annotations

from typing import Any

from guard.ledger import Record
from guard.lightsail_instances import bundles_of, priced, running
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

SERVICE = "lightsail"
KIND = "Lightsail database"
NAME = "lightsail-databases"
STOP_KEEPS = (
    "Not stopped or deleted by the guard: a stopped Lightsail database bills as a running one, "
    "and deleting it loses its data unless a final snapshot is taken."
)


def count(lightsail: Any, region: str) -> list[Running]:
    """Every database, whatever its state, priced by its bundle."""
    pages = lightsail.get_paginator("get_relational_databases").paginate()
    databases = [database for page in pages for database in page["relationalDatabases"]]
    if not databases:
        return []
    bundle_key = "relationalDatabaseBundleId"
    bundles = priced(
        databases,
        bundle_key,
        [lambda: bundles_of(lightsail, "get_relational_database_bundles")],
    )
    return [
        running(KIND, region, d, bundle=d[bundle_key], bundles=bundles, state=d.get("state", ""))
        for d in databases
    ]


def halt(lightsail: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Nothing changed: each database is reported for a person to snapshot and delete."""
    return ServiceHalt(
        errors=[
            f"{item.region}: {KIND} {item.name} ({item.instance_type}) not halted: a stopped "
            "database still bills; delete it by hand with a final snapshot "
            "(DeleteRelationalDatabase)"
            for item in found
        ]
    )


def restore(
    lightsail: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Nothing: the guard never changed a database."""
    return ServiceRestore()
