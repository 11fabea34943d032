"""Finding the caller's account without building IAM backends nobody asked for.

moto finds a request's account from its access key by reading every partition's IAM backend of
every account it knows (moto.iam.models.get_account_id_from), and reading one creates it: eight
partitions per account, each loading AWS's managed policies where a test asks for them (a
quarter of a second each). A guard run of a few thousand requests spent most of its time there.
A backend never created holds no access key, so only the created ones are read: the answer is
the same, found without creating anything (a speed fix, no behaviour of AWS).
"""

from __future__ import annotations

import moto.iam.models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

from strict_aws.patches import Patches


def install(patches: Patches) -> None:
    patches.set(moto.iam.models, "get_account_id_from", _account_of)  # type: ignore[arg-type]


def _account_of(access_key: str) -> str:
    for account_id, account in list(iam_backends.items()):
        for backend in list(dict.values(account)):  # the created partitions only
            if access_key in backend.access_keys:
                return str(account_id)
    return DEFAULT_ACCOUNT_ID
