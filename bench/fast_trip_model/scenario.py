"""The bench's parameters, and the runaway script's timeline they imply.

One frozen record, read by every other module of the model, so that the launches, the event
delivery, the schedule and the report all agree on when instance i launched, where, and when its
launch event could be read.
"""

from __future__ import annotations

from dataclasses import dataclass

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
HOME = REGIONS[0]
ACCOUNT = "123456789012"  # moto's default account


@dataclass(frozen=True)
class Scenario:
    instances: int
    rate: float
    limit: int
    latency: float
    window: float
    delivery: float
    cross_delivery: float
    retry_delay: float
    pending_seconds: float = 15.0  # launch to running (strict layer, virtual clock)
    batch_size: int = 10_000

    def launch_time(self, index: int) -> float:
        return index / self.rate

    def region_of(self, index: int) -> str:
        return REGIONS[index % len(REGIONS)]

    def visible_time(self, index: int) -> float:
        """When instance `index`'s launch event can be read from the home queue."""
        same = self.region_of(index) == HOME
        return self.launch_time(index) + (self.delivery if same else self.cross_delivery)

    @property
    def crossing(self) -> int:
        """The launch that makes the count limit + 1 (indices count from 0)."""
        return self.limit
