"""The drill's AWS emulator: one `moto_server` on loopback, one emulated account per fleet account.

moto keeps every account apart inside one server: an `sts:AssumeRole` into
`arn:aws:iam::<account>:role/<any name>` returns keys that moto maps to that account (the role
need not exist), and the CDK CLI's own AssumeRole into each account's deploy role lands there
too. IAM enforcement is switched on and off at run time through moto's `/moto-api/reset-auth`
(the body is the number of requests still allowed before enforcement starts: "0" = now,
"inf" = never). While it is on, every request must carry keys that exist in the emulator.

The server is moto under the strict-AWS layer (the strict_aws package): launched and
started instances stay `pending` for PENDING_SECONDS, StopInstances refuses what AWS refuses,
`maintain` fleets replace what is terminated, resumed Auto Scaling groups run a health check.
`python -m runawaytrain_cli.drill.emulator -H HOST -p PORT` is that server plus two answers moto
lacks (see `fill_gaps`); the drill says so among what is not emulated.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from runawaytrain_stack import JSII_SILENCED_MAJORS
from runawaytrain_stack.names import BOOTSTRAP_QUALIFIER as QUALIFIER
from strict_aws import PENDING_SECONDS_ENV

HOST = "localhost"  # the CDK CLI uploads assets to S3 by host name; 127.0.0.1 breaks that
FAKE_KEY = "drill"  # the operator's key: any value is accepted while enforcement is off
OPERATOR_ROLE = "runawaytrain-drill-operator"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
BOOTSTRAP_QUALIFIER = QUALIFIER  # runawaytrain's own (names.py)
BOOTSTRAP_VERSION = "30"  # what `cdk bootstrap` of this CLI writes; templates require >= 6
# How long a launched or started instance stays `pending` (real EC2: tens of seconds). Short, so
# the drill stays quick, yet long enough that a launch made just before the trip is still pending
# when the guard counts it, even on a busy 2-core machine (2 s was not: the census of ~20
# emulated Regions can take longer than that under load).
PENDING_SECONDS = 6.0
SERVER_MODULE = "runawaytrain_cli.drill.emulator"  # see serve()
# Organizations' CreateAccount picks a random id; the drill's fleet names fixed ones, so the
# drill's server hands these out in order instead (a comma-separated list).
ACCOUNT_IDS_ENV = "DRILL_ACCOUNT_IDS"
GAPS_FILLED = (
    "DescribeCapacityReservations: not implemented by moto; the strict layer answers an "
    "empty list (the drill reserves no capacity), so the trip's still-billing count can run",
    "Organizations CreateAccount: moto picks random account ids; the drill's emulator hands out "
    "the fleet's ids, so the payer's organization holds the accounts accounts.yaml names",
)


class EmulatorError(RuntimeError):
    """The emulator could not be started or did not answer."""


class EmulatorSession(boto3.session.Session):
    """A boto3 session whose clients all talk to the emulator's endpoint."""

    def __init__(self, endpoint: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint

    def client(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("endpoint_url", self.endpoint)
        return super().client(*args, **kwargs)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Emulator:
    """`with Emulator(log) as emulator:` runs moto_server; leaving the block always stops it."""

    def __init__(
        self,
        log_path: Path,
        pending_seconds: float = PENDING_SECONDS,
        account_ids: tuple[str, ...] = (),
    ) -> None:
        """`account_ids`: what Organizations' CreateAccount returns, in order."""
        self.account_ids = account_ids
        self.port = free_port()
        self.pending_seconds = pending_seconds
        self.endpoint = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        env = {
            **os.environ,
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # AWSDenyAll must exist for lockout
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
            PENDING_SECONDS_ENV: str(self.pending_seconds),
            ACCOUNT_IDS_ENV: ",".join(self.account_ids),
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", SERVER_MODULE, "-H", "127.0.0.1", "-p", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(
                    f"moto_server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise EmulatorError(f"moto_server did not answer on {self.endpoint} in {START_TIMEOUT_S}s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def set_iam_enforcement(self, enabled: bool) -> None:
        body = b"0" if enabled else b"inf"
        # text/plain: with urllib's default form type, Flask would consume the body as a form.
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/reset-auth",
            data=body,
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except (urllib.error.URLError, OSError) as error:
            raise EmulatorError(f"switching IAM enforcement via moto reset-auth: {error}") from None

    def session(
        self, region: str, key: str = FAKE_KEY, secret: str = FAKE_KEY, token: str | None = None
    ) -> EmulatorSession:
        return EmulatorSession(
            self.endpoint,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name=region,
        )

    def assume(self, role_arn: str, region: str, via: EmulatorSession | None = None) -> Any:
        """A session with the credentials of `role_arn` (which places it in the role's account)."""
        sts = (via or self.session(region)).client("sts", region_name=region)
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="runawaytrain-drill")[
            "Credentials"
        ]
        return self.session(
            region,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )

    def operator(self, account: str, region: str) -> EmulatorSession:
        """An administrator's session in `account` (only while IAM enforcement is off)."""
        session: EmulatorSession = self.assume(
            f"arn:aws:iam::{account}:role/{OPERATOR_ROLE}", region
        )
        return session

    def cli_environment(self) -> dict[str, str]:
        """The environment for the CDK CLI: the emulator's endpoint, fake operator keys."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") and key != "CDK_DEFAULT_ACCOUNT"
        }
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=FAKE_KEY,
            AWS_SECRET_ACCESS_KEY=FAKE_KEY,
            AWS_REGION="us-east-1",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            CDK_DISABLE_CLI_TELEMETRY="true",
            JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=JSII_SILENCED_MAJORS,
        )
        return env


def bootstrap(session: EmulatorSession, account: str, region: str) -> None:
    """What `cdk deploy` needs of a bootstrap: the asset bucket and the version parameter.

    `cdk bootstrap` would deploy the whole bootstrap stack (about 9 s per account here); the
    CLI's deploy only reads the version parameter and uploads to the bucket. Its roles need not
    exist: moto lets AssumeRole into any role ARN.
    """
    s3 = session.client("s3", region_name=region)
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{account}-{region}"
    if location:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
    else:
        s3.create_bucket(Bucket=bucket)
    session.client("ssm", region_name=region).put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version",
        Value=BOOTSTRAP_VERSION,
        Type="String",
        Overwrite=True,
    )


def fill_gaps() -> None:
    """What the strict layer's moto_server lacks for the drill (GAPS_FILLED says which)."""
    account_ids = [a for a in os.environ.get(ACCOUNT_IDS_ENV, "").split(",") if a]
    if account_ids:
        from moto.organizations import utils

        random_id = utils.make_random_account_id
        utils.make_random_account_id = lambda: account_ids.pop(0) if account_ids else random_id()


def serve(argv: list[str] | None = None) -> None:
    """moto_server under the strict-AWS layer, gaps filled (the drill's emulator process)."""
    from strict_aws import main

    fill_gaps()
    main(argv)


if __name__ == "__main__":
    serve()
