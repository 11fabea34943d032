"""Strict AMIs: RegisterImage gives an image the root device type AWS would.

moto's RegisterImage keeps only the name and description, and says every registered image has a
`standard` root device. AWS: an image registered from a bundle's manifest in S3 (ImageLocation)
is instance store-backed, registering it being the last step of creating one; an image
registered from a snapshot of a root volume (RootDeviceName and an Ebs block device mapping for
it) is EBS-backed (EC2 API Reference, RegisterImage; EC2 User Guide, "Create an instance
store-backed AMI"). What an instance launched from it is follows (ec2_instances.py).
"""

from __future__ import annotations

from typing import Any

from moto.ec2.responses.amis import AmisResponse

from strict_aws.active import current
from strict_aws.patches import Patches

_ORIGINAL: dict[str, Any] = {"register_image": AmisResponse.register_image}


def install(patches: Patches) -> None:
    patches.set(AmisResponse, "register_image", _register_image_response)


def _root_device_type(location: str | None, root: str | None, mappings: list[Any]) -> str | None:
    if any(m.get("DeviceName") == root and "Ebs" in m for m in mappings if root):
        return "ebs"
    return "instance-store" if location else None


def _register_image_response(self: AmisResponse) -> Any:
    before = set(self.ec2_backend.amis)
    result = _ORIGINAL["register_image"](self)
    if current() is None:
        return result
    location = self._get_param("ImageLocation")
    root = self._get_param("RootDeviceName")
    kind = _root_device_type(location, root, self._get_param("BlockDeviceMappings", []) or [])
    for image_id in set(self.ec2_backend.amis) - before:
        image = self.ec2_backend.amis[image_id]
        image.image_location = location or image.image_location
        image.root_device_name = root or image.root_device_name
        image.root_device_type = kind or image.root_device_type
    return result
