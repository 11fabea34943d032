"""Strict RDS: stops and starts take time, a stopped database starts again by itself after
seven days, an Aurora cluster's stop stops its instances, and an Aurora instance refuses a stop
of its own.

moto makes a DB instance or cluster `stopped` and `available` the moment it is stopped or
started, never starts a stopped one again, leaves the instances of a stopped cluster
`available`, and stops an Aurora cluster's instance by itself. AWS:
- StopDBInstance leaves the instance `stopping`, then `stopped`; StartDBInstance `starting`, then
  `available` (RDS User Guide, "Stopping an Amazon RDS DB instance temporarily": "The status of
  the DB instance changes to stopping and then stopped"); each for the layer's `pending_seconds`
  by its clock (how long is undocumented: "can take several minutes", a start "from minutes to
  hours");
- a stopped instance starts again by itself after seven days ("You can stop a DB instance for up
  to seven days. If you do not manually start your DB instance after seven days, your DB
  instance is automatically started", same page; StopDBInstance, API Reference: "The instance
  restarts automatically after 7 days"); an Aurora cluster likewise (Aurora User Guide,
  "Stopping and starting an Amazon Aurora DB cluster": "You can stop a DB cluster for up to
  seven days... automatically started"); modelled as `starting`, then `available`;
- StopDBCluster and StartDBCluster move the cluster's DB instances with it (same Aurora page: a
  stopped cluster's instances are stopped; UNCERTAIN: that the members read exactly the
  cluster's status at every moment);
- StopDBInstance on an Aurora cluster's instance is refused: "This command doesn't apply to RDS
  Custom, Aurora MySQL, and Aurora PostgreSQL. For Aurora clusters, use StopDBCluster instead"
  (API Reference, StopDBInstance); AWS's answer is InvalidParameterCombination "aurora-postgresql
  DB instances are not eligible for stopping and starting." (quoted in
  aws-solutions/instance-scheduler-on-aws#132 and #249; "aurora DB instances ..." in
  base2Services/cfn-start-stop-stack#10).
moto already refuses a stop unless `available` ("Instance X is not in available state.", the text
cloud-custodian#1687 quotes), a read replica, and Multi-AZ SQL Server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moto.rds.exceptions import InvalidParameterCombination
from moto.rds.models import DBCluster, DBInstance, RDSBackend

from strict_aws.active import current
from strict_aws.patches import Patches

if TYPE_CHECKING:
    from strict_aws.layer import StrictAWS

SEVEN_DAYS = 7 * 24 * 3600.0
# Where a database keeps its status moving over time: [(from time, status), ...].
_SCHEDULE = "_strict_schedule"

_ORIGINAL: dict[str, Any] = {
    "cluster_status": DBCluster.__dict__["status"],
    "stop_db_instance": RDSBackend.stop_db_instance,
    "start_db_instance": RDSBackend.start_db_instance,
    "stop_db_cluster": RDSBackend.stop_db_cluster,
    "start_db_cluster": RDSBackend.start_db_cluster,
}


def install(patches: Patches) -> None:
    patches.set(DBInstance, "status", property(_get_instance_status, _set_instance_status))
    patches.set(DBCluster, "status", property(_get_cluster_status, _set_cluster_status))
    patches.set(RDSBackend, "stop_db_instance", _stop_db_instance)
    patches.set(RDSBackend, "start_db_instance", _start_db_instance)
    patches.set(RDSBackend, "stop_db_cluster", _stop_db_cluster)
    patches.set(RDSBackend, "start_db_cluster", _start_db_cluster)


class _Schedule:
    """A database's statuses from given times on, by the layer's clock; tracked by the layer, so
    `make_running()` and uninstall settle it (as its last status before the seven-day start)."""

    def __init__(self, layer: StrictAWS, database: Any, steps: list[tuple[float, str]]) -> None:
        self._layer = layer
        self._database = database
        self.steps = steps
        self.settled = steps[1][1]

    @property
    def instance_id(self) -> str:
        return str(
            getattr(self._database, "db_instance_identifier", None)
            or self._database.db_cluster_identifier
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> _Schedule:
        # moto deep-copies a cluster for the answer of StopDBCluster and StartDBCluster: the
        # copy reads the same schedule (the layer it refers to cannot be copied).
        return self

    def resolve(self) -> str:
        now = self._layer.clock()
        status = self.steps[0][1]
        for at, step in self.steps:
            if at <= now:
                status = step
        return status

    def make_running(self) -> None:
        fields = self._database.__dict__
        if fields.get(_SCHEDULE) is self:
            del fields[_SCHEDULE]
            _plain_set(self._database, self.settled)


def _plain_set(database: Any, value: str) -> None:
    if isinstance(database, DBCluster):
        database._status = value
    else:
        database.__dict__["status"] = value


def _get_instance_status(self: DBInstance) -> str | None:
    schedule = self.__dict__.get(_SCHEDULE)
    if schedule is not None:
        return str(schedule.resolve())
    return self.__dict__.get("status")


def _set_instance_status(self: DBInstance, value: str) -> None:
    self.__dict__.pop(_SCHEDULE, None)
    self.__dict__["status"] = value


def _get_cluster_status(self: DBCluster) -> str:
    schedule = self.__dict__.get(_SCHEDULE)
    if schedule is not None:
        return str(schedule.resolve())
    return str(_ORIGINAL["cluster_status"].fget(self))


def _set_cluster_status(self: DBCluster, value: str) -> None:
    self.__dict__.pop(_SCHEDULE, None)
    _ORIGINAL["cluster_status"].fset(self, value)


def _stopping(layer: StrictAWS) -> list[tuple[float, str]]:
    now, took = layer.clock(), layer.pending_seconds
    return [
        (now, "stopping"),
        (now + took, "stopped"),
        (now + SEVEN_DAYS, "starting"),  # AWS starts it again by itself
        (now + SEVEN_DAYS + took, "available"),
    ]


def _starting(layer: StrictAWS) -> list[tuple[float, str]]:
    now = layer.clock()
    return [(now, "starting"), (now + layer.pending_seconds, "available")]


def _move(layer: StrictAWS, database: Any, steps: list[tuple[float, str]]) -> None:
    schedule = _Schedule(layer, database, steps)
    database.__dict__[_SCHEDULE] = schedule
    layer.track(schedule)


def _stop_db_instance(
    self: RDSBackend, db_instance_identifier: str, db_snapshot_identifier: str | None = None
) -> DBInstance:
    layer = current()
    if layer is None:
        return _ORIGINAL["stop_db_instance"](self, db_instance_identifier, db_snapshot_identifier)
    database = self.describe_db_instances(db_instance_identifier)[0]
    if getattr(database, "db_cluster_identifier", None) and database.engine.startswith("aurora"):
        raise InvalidParameterCombination(
            f"{database.engine} DB instances are not eligible for stopping and starting."
        )
    stopped = _ORIGINAL["stop_db_instance"](self, db_instance_identifier, db_snapshot_identifier)
    _move(layer, database, _stopping(layer))
    return stopped


def _start_db_instance(self: RDSBackend, db_instance_identifier: str) -> DBInstance:
    layer = current()
    if layer is None:
        return _ORIGINAL["start_db_instance"](self, db_instance_identifier)
    database = self.describe_db_instances(db_instance_identifier)[0]
    if getattr(database, "db_cluster_identifier", None) and database.engine.startswith("aurora"):
        raise InvalidParameterCombination(
            f"{database.engine} DB instances are not eligible for stopping and starting."
        )
    started = _ORIGINAL["start_db_instance"](self, db_instance_identifier)
    _move(layer, database, _starting(layer))
    return started


def _stop_db_cluster(self: RDSBackend, cluster_identifier: str) -> DBCluster:
    layer = current()
    if layer is None:
        return _ORIGINAL["stop_db_cluster"](self, cluster_identifier)
    answer = _ORIGINAL["stop_db_cluster"](self, cluster_identifier)
    cluster = self.clusters[cluster_identifier]
    steps = _stopping(layer)
    for database in (cluster, *cluster.members):
        _move(layer, database, steps)
    return answer


def _start_db_cluster(self: RDSBackend, cluster_identifier: str) -> DBCluster:
    layer = current()
    if layer is None:
        return _ORIGINAL["start_db_cluster"](self, cluster_identifier)
    answer = _ORIGINAL["start_db_cluster"](self, cluster_identifier)
    cluster = self.clusters[cluster_identifier]
    steps = _starting(layer)
    for database in (cluster, *cluster.members):
        _move(layer, database, steps)
    return answer
