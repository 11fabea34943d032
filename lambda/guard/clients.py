"""AWS clients for the guard: one shared retry policy, one client per service and region.

Every client uses botocore's `standard` retry mode, which retries throttling
(`RequestLimitExceeded`, `Throttling`, ...) and transient errors with exponential backoff.
Source: boto3 guide "Retries" (standard mode; max_attempts counts the first call too).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from boto3.session import Session

MAX_ATTEMPTS = 10  # 1 call + 9 retries: absorbs a throttled account without failing the trip
# Threads of the guard's per-region steps (handler.py: the EC2 census and halt, weighing,
# restore): one per region and more.
REGION_WORKERS = 32
# Connections each client keeps for reuse (botocore Config max_pool_connections: "The maximum
# number of connections to keep in a connection pool", default 10). botocore does not make its
# urllib3 pool block, so a call beyond it does not wait: it opens a connection of its own, which
# is closed after the call with a WARNING ("Connection pool is full, discarding connection";
# urllib3 HTTPConnectionPool._get_conn/_put_conn: "If connections are discarded frequently,
# then maxsize should be increased"; boto/botocore#619, #766), and the next call pays a new TLS
# handshake. So each client keeps as many as the most threads that may call it at once: the
# halt's services.HALT_WORKERS (160), all on one client when one service in one region holds
# most items; in the census, the counts of one service in one region (up to 5 kinds share
# SageMaker's client) with parallel.ITEM_THREADS (96) helping them. Connections are made as
# calls need them: a bigger pool costs nothing an account does not use.
MAX_POOL_CONNECTIONS = 160

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=MAX_POOL_CONNECTIONS,
)


class ClientFactory:
    """Thread-safe cache of boto3 clients; boto3 sessions are not safe to share while creating."""

    def __init__(self, session: Session | None = None, config: Config = CLIENT_CONFIG) -> None:
        self.session = session or boto3.session.Session()
        self.config = config
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._calls = 0  # API operations made by this factory's clients (the AwsCalls metric)
        self._calls_lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                made = self.session.client(service, region_name=region, config=self.config)
                self._clients[key] = self.counted(made)
            return self._clients[key]

    def counted(self, client: Any) -> Any:
        """`client`, its calls counted in `calls`: botocore emits `before-call` once per
        operation, before its retries (a page of a paginator is an operation), so a retried
        call counts once."""
        client.meta.events.register("before-call", self._count_call)
        return client

    def _count_call(self, **_: Any) -> None:
        with self._calls_lock:
            self._calls += 1

    @property
    def calls(self) -> int:
        """API operations made so far; a run takes the difference (clients outlive a run)."""
        with self._calls_lock:
            return self._calls

    @property
    def home_region(self) -> str:
        return self.session.region_name or "us-east-1"

    def partition_of(self, region: str) -> str:
        return self.session.get_partition_for_region(region)

    def regions_offering(self, service: str) -> list[str]:
        """The regions of the home region's partition that botocore's endpoint data lists for
        `service` (no call), under the lock: clients may be made beside it."""
        with self._lock:
            partition = self.session.get_partition_for_region(self.home_region)
            return self.session.get_available_regions(service, partition_name=partition)


def assume_role_session(role_arn: str, region: str, session_name: str) -> Session:
    """A session with the credentials of `role_arn` (the operator CLI acting inside an account)."""
    sts = boto3.client("sts", region_name=region, config=CLIENT_CONFIG)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
