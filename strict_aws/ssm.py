"""Strict Systems Manager Parameter Store: a Region holds a quota of standard parameters.

moto creates any number of standard parameters and stores `Tier` as given, so a guard that
writes its records as Standard passes here and fails on AWS once someone has filled the
Region's standard parameters. AWS holds "10,000 parameters per Region" in the standard tier
(SSM User Guide, "Changing Parameter Store throughput" and "Managing parameter tiers"); a new
standard parameter beyond that is refused: 400 `ParameterLimitExceeded`, "You have exceeded
the number of parameters for this Amazon Web Services account. Delete one or more parameters
and try again." (SSM API Reference, PutParameter errors; botocore's error text). The quota is
`StrictAWS.ssm_standard_quota` (10,000 unless a test sets it lower).

`Tier="Intelligent-Tiering"`: Parameter Store "creates a parameter in the standard tier unless
the request includes options that require the advanced tier", and when a process reaches "the
10,000 parameter quota in the standard tier, Intelligent-Tiering automatically upgrades you to
the advanced parameter tier" (SSM User Guide, "Specifying a default parameter tier"); a value
over 4 KB is upgraded too (same page). The parameter then reads `Standard` or `Advanced`, never
the request's word (moto kept "Intelligent-Tiering"). The advanced tier's own quota (100,000)
is not modelled.
"""

from __future__ import annotations

from typing import Any

from moto.ssm.exceptions import SSMException
from moto.ssm.models import SimpleSystemManagerBackend

from strict_aws.active import current
from strict_aws.patches import Patches

STANDARD_QUOTA = 10_000  # standard parameters per account and Region
STANDARD_VALUE_MAX = 4096  # a standard parameter's value: 4 KB
STANDARD, ADVANCED, INTELLIGENT = "Standard", "Advanced", "Intelligent-Tiering"
_ORIGINAL_PUT = SimpleSystemManagerBackend.put_parameter


class ParameterLimitExceeded(SSMException):
    def __init__(self) -> None:
        super().__init__(
            "ParameterLimitExceeded",
            "You have exceeded the number of parameters for this Amazon Web Services account. "
            "Delete one or more parameters and try again.",
        )


def install(patches: Patches) -> None:
    patches.set(SimpleSystemManagerBackend, "put_parameter", _put_parameter)


def standard_count(backend: SimpleSystemManagerBackend) -> int:
    """The Region's own standard parameters (AWS's public /aws/ ones are not the account's)."""
    return sum(
        1
        for name, versions in dict.items(backend._parameters)
        if versions and versions[-1].tier == STANDARD and not name.startswith("/aws/")
    )


def _put_parameter(self: SimpleSystemManagerBackend, *args: Any, **kwargs: Any) -> Any:
    layer = current()
    if layer is None:
        return _ORIGINAL_PUT(self, *args, **kwargs)
    name = kwargs.get("name", args[0] if args else "")
    value = str(kwargs.get("value", args[2] if len(args) > 2 else "") or "")
    existing = dict.get(self._parameters, name) or []
    tier = kwargs.get("tier") or (existing[-1].tier if existing else self.default_parameter_tier)
    full = standard_count(self) >= layer.ssm_standard_quota
    if tier == INTELLIGENT:
        was_advanced = bool(existing) and existing[-1].tier == ADVANCED
        upgrade = was_advanced or len(value) > STANDARD_VALUE_MAX or (full and not existing)
        kwargs["tier"] = ADVANCED if upgrade else STANDARD
    elif tier == STANDARD and full and not existing:
        raise ParameterLimitExceeded()
    return _ORIGINAL_PUT(self, *args, **kwargs)
