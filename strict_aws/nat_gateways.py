"""Strict NAT gateways: a deleted public NAT gateway lets go of its Elastic IP, which stays
allocated; an unknown NAT gateway id is refused.

"Deleting a public NAT gateway disassociates its Elastic IP address, but does not release the
address from your account. Deleting a NAT gateway does not delete any NAT gateway routes in your
route tables" (EC2 API Reference, DeleteNatGateway). moto marks the gateway `deleted` but leaves
the address associated with the gateway's network interface: here it is disassociated (still
allocated, its tags kept). DeleteNatGateway of an id the region does not have answers
`NatGatewayNotFound` (the code terraform-provider-aws ignores on delete; the text is
UNCERTAIN) where moto fails with an internal error. A deleted gateway still lists as `deleted`
(AWS keeps it visible for a while); `deleting` is not modelled: moto's gateway is `deleted` at
once.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.nat_gateways import NatGatewayBackend

from strict_aws.patches import Patches

_ORIGINAL_DELETE = NatGatewayBackend.delete_nat_gateway


def install(patches: Patches) -> None:
    patches.set(NatGatewayBackend, "delete_nat_gateway", _delete_nat_gateway)


def _delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
    gateway = self.nat_gateways.get(nat_gateway_id)
    if gateway is None:
        raise EC2ClientError(
            "NatGatewayNotFound", f"The natGateway ID '{nat_gateway_id}' does not exist"
        )
    for address in list(self.addresses):
        if address.eni is not None and address.eni is gateway._eni:
            self.disassociate_address(association_id=address.association_id)
    return _ORIGINAL_DELETE(self, nat_gateway_id)
