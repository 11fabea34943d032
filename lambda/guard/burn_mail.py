"""The mail's lines on the weighted limits: what burns now, dearest types first, and the caveats.

Reads the report's `burn` (weigh.burn_report: Burn.to_dict() plus the limits); pure text.
"""

from __future__ import annotations

from typing import Any

from guard.burn import UNPRICED_USD_PER_VCPU_HOUR, PriceSource
from guard.report import Report

TYPES_IN_LINE = 10  # (type, region) groups named in each summary line; the rest are counted


def burn_subject(report: Report) -> str:
    """ ", 24 GPUs vs 16, 123 USD/h vs 100" for the weighted limits that tripped."""
    burn = report.burn
    if not burn:
        return ""
    limits = burn["limits"]
    parts = []
    if "vcpu-limit" in report.trip_reasons:
        parts.append(f"{burn['vcpus']} vCPUs vs {limits['vcpus']}")
    if "gpu-limit" in report.trip_reasons:
        parts.append(f"{burn['accelerators']} GPUs vs {limits['gpus']}")
    if "usd-limit" in report.trip_reasons:
        parts.append(f"{burn['usd_per_hour']:,.0f} USD/h vs {limits['usd_per_hour']:,.0f}")
    return "".join(f", {part}" for part in parts)


def burn_lines(report: Report) -> list[str]:
    burn = report.burn
    if not burn:
        return []
    limits = burn["limits"]
    lines: list[dict[str, Any]] = burn["lines"]
    out = []
    if limits["usd_per_hour"] is not None:
        priced = [line for line in lines if line["usd_each"] is not None]
        out.append(
            f"Burning about {burn['usd_per_hour']:,.2f} USD/h now (limit "
            f"{limits['usd_per_hour']:,.2f}): "
            + _groups(priced, lambda line: f"{line['usd_each']:,.2f} USD/h each")
        )
    if limits["gpus"] is not None:
        with_devices = [line for line in lines if line["accelerators_each"]]
        out.append(
            f"GPUs/accelerators: {burn['accelerators']} (limit {limits['gpus']}): "
            + _groups(
                sorted(with_devices, key=lambda line: -line["accelerators_each"] * line["count"]),
                lambda line: f"{line['accelerator_names']} each",
            )
        )
    if limits["vcpus"] is not None:
        out.append(
            f"vCPUs: {burn['vcpus']} (limit {limits['vcpus']}): "
            + _groups(
                sorted(lines, key=lambda line: -(line["vcpus_each"] or 0) * line["count"]),
                lambda line: f"{line['vcpus_each']} vCPUs each",
            )
        )
    return out + _caveats(burn)


def _groups(lines: list[dict[str, Any]], each: Any) -> str:
    if not lines:
        return "nothing."
    shown = [
        f"{line['count']} x {line['instance_type']} in {line['region']}" + f" ({each(line)})"
        for line in lines[:TYPES_IN_LINE]
    ]
    more = sum(line["count"] for line in lines[TYPES_IN_LINE:])
    if more:
        shown.append(f"and {more} more instance(s) of {len(lines) - TYPES_IN_LINE} other group(s)")
    return ", ".join(shown) + "."


def _caveats(burn: dict[str, Any]) -> list[str]:
    out = []
    lines: list[dict[str, Any]] = burn["lines"]
    if burn["limits"]["usd_per_hour"] is not None:
        out.append(
            "  Prices: AWS Price List on-demand list prices (Linux, shared tenancy; SageMaker "
            "instances at SageMaker's price for what they run, e.g. a notebook); Spot "
            "instances counted at the on-demand price (an upper bound); no discounts, Savings "
            "Plans, Reserved Instances, dedicated-tenancy premiums, EBS or data transfer."
        )
    for line in lines:
        where = f"{line['instance_type']} in {line['region']}"
        if line["price_source"] == PriceSource.UNPRICED:
            out.append(
                f"  No list price found for {where}: counted at {UNPRICED_USD_PER_VCPU_HOUR:.2f} "
                f"USD per vCPU-hour ({line['usd_each']:,.2f} USD/h each), an upper bound."
            )
        if line["price_source"] == PriceSource.STALE:
            out.append(f"  The price of {where} is from an older cache: a refresh failed.")
    for where, error in sorted(burn["price_errors"].items()):
        out.append(f"  NO price could be looked up for {where} (not in the total): {error}")
    for instance_type, error in sorted(burn["unweighed"].items()):
        out.append(
            f"  {instance_type}: EC2 did not describe it, its vCPUs and GPUs are not in the "
            f"totals: {error}"
        )
    return out
