"""The strict layer's EC2 capacity a halt must handle with care, as a real AWS caller sees it:
Spot requests made by RunInstances and what a stop does to them, termination protection given at
launch and its Availability Zone semantics, instance-store roots."""

from __future__ import annotations

from typing import Any

from strict_aws import StrictAWS
from tests.strict_aws.ec2_calls import REGION, ec2, error_of, launch, state_of

PERSISTENT = {
    "MarketType": "spot",
    "SpotOptions": {"SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop"},
}


def requests_of(*instances: str) -> dict[str, dict[str, Any]]:
    """The Spot requests DescribeSpotInstanceRequests lists for `instances`, by instance id."""
    listed = ec2().describe_spot_instance_requests()["SpotInstanceRequests"]
    return {r["InstanceId"]: r for r in listed if r.get("InstanceId") in instances}


def test_spot_launched_by_run_instances_has_its_request_listed_and_a_stop_disables_it(
    strict: StrictAWS,
) -> None:
    [persistent] = launch(InstanceMarketOptions=PERSISTENT)
    [one_time] = launch(InstanceMarketOptions={"MarketType": "spot"})
    strict.make_running()

    requests = requests_of(persistent, one_time)
    assert {
        i: (r["Type"], r["InstanceInterruptionBehavior"], r["State"]) for i, r in requests.items()
    } == {
        persistent: ("persistent", "stop", "active"),
        one_time: ("one-time", "terminate", "active"),
    }
    [described] = ec2().describe_instances(InstanceIds=[persistent])["Reservations"]
    assert (
        described["Instances"][0]["SpotInstanceRequestId"]
        == (requests[persistent]["SpotInstanceRequestId"])
    )
    live = ec2().describe_spot_instance_requests(
        Filters=[{"Name": "state", "Values": ["open", "active"]}]
    )["SpotInstanceRequests"]
    assert {r["InstanceId"] for r in live} == {persistent, one_time}

    ec2().stop_instances(InstanceIds=[persistent])
    stopped = requests_of(persistent)[persistent]
    assert (stopped["State"], stopped["Status"]["Code"]) == ("disabled", "instance-stopped-by-user")

    ec2().start_instances(InstanceIds=[persistent])
    started = requests_of(persistent)[persistent]
    assert (started["State"], started["Status"]["Code"]) == ("active", "fulfilled")


def test_a_cancelled_request_leaves_its_spot_instance_unstoppable(strict: StrictAWS) -> None:
    [persistent] = launch(InstanceMarketOptions=PERSISTENT)
    strict.make_running()
    request = requests_of(persistent)[persistent]["SpotInstanceRequestId"]

    ec2().cancel_spot_instance_requests(SpotInstanceRequestIds=[request])

    code, _ = error_of(ec2().stop_instances, InstanceIds=[persistent])
    assert code == "UnsupportedOperation"
    assert state_of(persistent) == "running"


def test_termination_protection_given_at_launch_is_honoured(strict: StrictAWS) -> None:
    [protected] = launch(DisableApiTermination=True)
    attribute = ec2().describe_instance_attribute(
        InstanceId=protected, Attribute="disableApiTermination"
    )
    assert attribute["DisableApiTermination"]["Value"] is True

    code, message = error_of(ec2().terminate_instances, InstanceIds=[protected])

    assert (code, message) == (
        "OperationNotPermitted",
        f"The instance '{protected}' may not be terminated. Modify its 'disableApiTermination' "
        "instance attribute and try again.",
    )
    assert state_of(protected) == "pending"


def test_spot_instances_cannot_be_termination_protected(strict: StrictAWS) -> None:
    [spot] = launch(InstanceMarketOptions={"MarketType": "spot"})
    refusal = (
        "UnsupportedOperation",
        "Modifying 'disableApiTermination' is not supported for spot instances.",
    )

    assert (
        error_of(
            ec2().modify_instance_attribute, InstanceId=spot, DisableApiTermination={"Value": True}
        )
        == refusal
    )
    assert (
        error_of(
            ec2().run_instances,
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceMarketOptions={"MarketType": "spot"},
            DisableApiTermination=True,
        )
        == refusal
    )


def test_a_protected_instance_keeps_only_its_own_zone_from_terminating(strict: StrictAWS) -> None:
    """The TerminateInstances API reference's own example: A and B in one zone, protected C
    and unprotected D in another; the call fails, A and B are terminated, C and D are not."""
    a, b = launch(2, Placement={"AvailabilityZone": f"{REGION}a"})
    [c] = launch(Placement={"AvailabilityZone": f"{REGION}b"}, DisableApiTermination=True)
    [d] = launch(Placement={"AvailabilityZone": f"{REGION}b"})

    code, message = error_of(ec2().terminate_instances, InstanceIds=[a, b, c, d])

    assert code == "OperationNotPermitted"
    assert f"'{c}' may not be terminated" in message
    assert {i: state_of(i) for i in (a, b, c, d)} == {
        a: "terminated",
        b: "terminated",
        c: "pending",
        d: "pending",
    }
    done = ec2().terminate_instances(InstanceIds=[a, d])["TerminatingInstances"]
    assert {change["InstanceId"] for change in done} == {a, d}  # idempotent for a


def test_an_unknown_id_fails_the_whole_termination(strict: StrictAWS) -> None:
    [a] = launch(Placement={"AvailabilityZone": f"{REGION}a"})
    [c] = launch(Placement={"AvailabilityZone": f"{REGION}b"}, DisableApiTermination=True)

    code, _ = error_of(ec2().terminate_instances, InstanceIds=[a, c, "i-0123456789abcdef0"])

    assert code == "InvalidInstanceID.NotFound"
    assert state_of(a) == "pending"


def test_an_image_registered_from_a_manifest_is_instance_store_backed_and_refuses_a_stop(
    strict: StrictAWS,
) -> None:
    store = ec2().register_image(Name="store", ImageLocation="bucket/store/image.manifest.xml")
    snapshot = ec2().create_snapshot(
        VolumeId=ec2().create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    )
    backed = ec2().register_image(
        Name="ebs",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot["SnapshotId"]}}
        ],
    )
    images = ec2().describe_images(ImageIds=[store["ImageId"], backed["ImageId"]])["Images"]
    assert {i["ImageId"]: i["RootDeviceType"] for i in images} == {
        store["ImageId"]: "instance-store",
        backed["ImageId"]: "ebs",
    }
    [on_store] = launch(ImageId=store["ImageId"], InstanceType="m3.medium")
    [on_ebs] = launch(ImageId=backed["ImageId"])
    strict.make_running()
    [described] = ec2().describe_instances(InstanceIds=[on_store])["Reservations"]
    assert described["Instances"][0]["RootDeviceType"] == "instance-store"

    code, message = error_of(ec2().stop_instances, InstanceIds=[on_ebs, on_store])

    assert (code, message) == (
        "UnsupportedOperation",
        f"The instance '{on_store}' does not have an 'ebs' root device type and cannot be stopped.",
    )
    assert state_of(on_ebs) == "running"  # one refused id fails the whole call
    ec2().stop_instances(InstanceIds=[on_ebs])
    ec2().terminate_instances(InstanceIds=[on_store])


def ids_matching(*filters: tuple[str, list[str]]) -> set[str]:
    pages = (
        ec2()
        .get_paginator("describe_instances")
        .paginate(Filters=[{"Name": name, "Values": values} for name, values in filters])
    )
    return {i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"]}


def test_instances_filter_by_lifecycle_and_root_device_type_as_the_guard_asks(
    strict: StrictAWS,
) -> None:
    """The halt asks EC2 for its few special instances by these filters (instance_kinds.py);
    moto raises NotImplementedError for both."""
    store = ec2().register_image(Name="store", ImageLocation="bucket/store/image.manifest.xml")
    [on_demand] = launch()
    [spot] = launch(InstanceMarketOptions={"MarketType": "spot"})
    [on_store] = launch(ImageId=store["ImageId"], InstanceType="m3.medium")
    strict.make_running()
    pending_or_running = ("instance-state-name", ["pending", "running"])

    assert ids_matching(("instance-lifecycle", ["spot"]), pending_or_running) == {spot}
    assert ids_matching(("instance-lifecycle", ["scheduled", "capacity-block"])) == set()
    assert ids_matching(("root-device-type", ["instance-store"])) == {on_store}
    assert ids_matching(("root-device-type", ["ebs"])) == {on_demand, spot}
