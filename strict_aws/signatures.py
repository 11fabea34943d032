"""Request signatures as AWS checks them: a GET, HEAD or DELETE request carries no payload.

With IAM authentication on (the drill's emulator, tests under enable_iam_authentication), moto
recomputes each request's SigV4 signature to compare it with the caller's. For a request without
a body it hands botocore's signer its parsed query string, or for none its headers, as the
payload; the payload hash then differs from the caller's (the hash of an empty payload) and
every GET of a REST API is refused SignatureDoesNotMatch: EKS ListClusters, Lambda
ListFunctions. AWS hashes the body actually sent, empty here (AWS General Reference, "Create a
canonical request for Signature Version 4": HashedPayload is the hash of the request body, of an
empty string when there is none); the query string is already in the path moto passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.iam.access_control import IAMRequestBase

from strict_aws.patches import Patches


BODILESS = ("GET", "HEAD", "DELETE")


def install(patches: Patches) -> None:
    patches.set(
        IAMRequestBase,
        "_create_aws_request",
        _signed_as_sent(IAMRequestBase._create_aws_request),
    )


def _signed_as_sent(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(self: IAMRequestBase) -> Any:
        request = original(self)
        # Nothing was sent (a POST's form, by contrast, may reach here parsed into _data).
        if self._method in BODILESS and not self._body:
            request.data = b""
        return request

    return create
