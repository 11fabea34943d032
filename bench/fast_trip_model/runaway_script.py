"""The runaway script: its launches made in moto, on the virtual clock.

moto has no clock, so the script's launches cannot happen "at" their times. Instead, before each
guard run every launch due by the run's start is made, one RunInstances each with the clock at its
launch time: the census sees exactly what exists then, and the strict layer times each instance's
`pending` from its own launch. The script's calls use plain boto3, not the guard's hooked session:
their latency is not the guard's.
"""

from __future__ import annotations

from collections import Counter

import boto3

from bench.fast_trip_model.scenario import REGIONS, Scenario
from bench.vclock import VirtualClock

AMI = "ami-12c6146b"


class RunawayScript:
    """Instances [0, launched) exist in moto; `index_of` and `id_of` map ids and indices."""

    def __init__(self, scenario: Scenario, clock: VirtualClock) -> None:
        self.scenario = scenario
        self.clock = clock
        self.ec2 = {region: boto3.client("ec2", region_name=region) for region in REGIONS}
        self.launched = 0
        self.index_of: dict[str, int] = {}
        self.id_of: dict[int, str] = {}

    def launch_until(self, moment: float) -> None:
        """Launch in moto every instance the script has launched by `moment`, one at a time with
        the clock at its launch time (the strict layer times its `pending` from there)."""
        while self.launched < self.scenario.instances:
            index = self.launched
            if self.scenario.launch_time(index) > moment:
                break
            self.clock.at(self.scenario.launch_time(index))
            response = self.ec2[self.scenario.region_of(index)].run_instances(
                ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro"
            )
            instance_id = response["Instances"][0]["InstanceId"]
            self.index_of[instance_id], self.id_of[index] = index, instance_id
            self.launched += 1

    def end_states(self) -> Counter[str]:
        """State -> instances in moto now, for the instances launched so far."""
        states: Counter[str] = Counter()
        for client in self.ec2.values():
            for page in client.get_paginator("describe_instances").paginate():
                for reservation in page["Reservations"]:
                    states.update(i["State"]["Name"] for i in reservation["Instances"])
        return states
