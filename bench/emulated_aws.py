"""The emulated AWS every guard benchmark runs against: moto, the regions, the latency hook.

halt.py, halt_mix.py, weighted.py and the fast-trip model all need the same pieces: fake
credentials before any client exists (no bench may ever reach real AWS), lambda/ on the import
path (the guard's code is imported, not copied), the region lists, a botocore hook that sleeps
a fixed latency before every call and counts calls, and moto under the strict-AWS layer. They
lived in halt.py, which imported halt_mix.py for `--mix` while halt_mix.py imported them back: a
circle. Here they have their own module, which imports no bench module, so the benches import
it one way only.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT)]
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    MOTO_EC2_LOAD_DEFAULT_AMIS="false",
)

import boto3  # noqa: E402 -- after the fake credentials above
from moto import mock_aws  # noqa: E402

from strict_aws import strict_aws  # noqa: E402

# The regions every account has enabled by default (no opt-in needed), per the AWS General
# Reference "Enable or disable AWS Regions in your account".
DEFAULT_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip


# Every region moto lists as enabled (it also marks three opt-in regions enabled).
ALL_LISTED_REGIONS = (*DEFAULT_REGIONS, "af-south-1", "eu-south-1", "ap-southeast-3")


class LatencyInjector:
    """Sleeps before every call (network latency) and counts calls by operation, thread-safely."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
        if self.latency:
            time.sleep(self.latency)

    def session(self) -> boto3.session.Session:
        session = boto3.session.Session(region_name="us-east-1")
        session.events.register("before-call", self)
        return session


# method, URL, X-Amz-Target, body, access key
RequestKey = tuple[str, str, str, bytes, str]


class Replay:
    """AWS with no server-side cost: every call the guard makes is answered from a recording
    of the emulator's answer to the same request, so a timed run pays what the guard pays in
    Lambda (signing, sending, parsing, its own work) and the latency hook's sleep, but not the
    emulator's CPU, which inline competes with the guard's threads for the interpreter lock.

    Recording (the untimed run before): each request is asked of moto and its answer kept, by
    method, URL, body, X-Amz-Target (a JSON protocol's operation) and the access key that signed
    it (the same read in two accounts is two requests: bench/status.py). Then, inside `replaying()`,
    a request seen before is answered from the recording; one not seen (a body with a
    timestamp) is asked of moto, and counted in `missed`. A registered-first `before-send`
    handler: botocore calls every handler of that event and takes the first answer, so moto's
    own handler is switched off while replaying (it would answer every call again)."""

    def __init__(self) -> None:
        from moto.core.models import botocore_stubber

        self._emulator = botocore_stubber
        self._answers: dict[
            tuple[str, str, str, bytes, str], tuple[int, dict[str, str], bytes]
        ] = {}
        self._lock = threading.Lock()
        self.recording = True
        self.missed = 0
        self.missed_by: Counter[str] = Counter()  # "METHOD host X-Amz-Target": requests missed

    @contextmanager
    def replaying(self) -> Iterator[None]:
        self.recording, self._emulator.enabled = False, False
        try:
            yield
        finally:
            self.recording, self._emulator.enabled = True, True

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        body = request.body or b""
        target = request.headers.get("X-Amz-Target") or b""
        target = target.decode() if isinstance(target, bytes) else target
        key = (
            request.method,
            request.url,
            target,
            body if isinstance(body, bytes) else body.encode(),
            _access_key(request.headers.get("Authorization") or b""),
        )
        with self._lock:
            answer = None if self.recording else self._answers.get(key)
            if answer is None and not self.recording:
                self.missed += 1
                self.missed_by[_operation(request.method, request.url, target, key[3])] += 1
        if answer is None:
            answer = self._emulator.process_request(request)
            if answer is None:  # moto has no backend for it: never let it reach the network
                raise RuntimeError(f"the emulator cannot answer {request.method} {request.url}")
            status, headers, content = answer
            answer = (
                status,
                dict(headers),
                content if isinstance(content, bytes) else content.encode(),
            )
            with self._lock:
                self._answers[key] = answer
        status, headers, content = answer
        return AWSResponse(request.url, status, headers, MockRawResponse(content))


def _operation(method: str, url: str, target: str, body: bytes) -> str:
    """What a request asks, for a report: its service and its X-Amz-Target, query Action, or
    REST method and path."""
    service = url.split("/")[2].split(".", maxsplit=1)[0]
    action = re.search(rb"(?:^|&)Action=([A-Za-z]+)", body)
    if target or action:
        return f"{service} {target or action.group(1).decode()}"  # type: ignore[union-attr]
    path = url.split("/", 3)[3].split("?", maxsplit=1)[0] if url.count("/") >= 3 else ""
    return f"{service} {method} /{re.sub(r'[^/]{20,}', '*', path)}"


def _access_key(authorization: str | bytes) -> str:
    """The access key of a SigV4 `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/...`."""
    text = authorization.decode() if isinstance(authorization, bytes) else authorization
    return text.partition("Credential=")[2].partition("/")[0]


@contextmanager
def emulated(strict: bool = True, **layer: Any) -> Iterator[Any]:
    """moto, under the strict-AWS layer (`layer`: its arguments) unless not `strict`; yields the
    layer or None."""
    with mock_aws():
        if not strict:
            yield None
            return
        with strict_aws(**layer) as strict_layer:
            yield strict_layer
