"""What the mail says about capacity outside EC2 (services.py): counted, halted, waiting,
restored."""

from __future__ import annotations

from guard.report import Report
from guard.services import MODULE_OF


def service_lines(report: Report) -> list[str]:
    lines: list[str] = []
    if report.services and report.verdict != "restore":
        lines.append("Other services, billing now, by region (not in the EC2 count):")
        for kind, by_region in sorted(report.services.items()):
            # 0: capacity with no instances of its own (a node group's are EC2's; a Lambda
            # function bills per invocation): counted, halted, not weighed.
            where = ", ".join(
                f"{region} {n or 'present, no instances of its own'}"
                for region, n in sorted(by_region.items())
            )
            lines.append(f"  {kind}: {where}")
    refused = {kind for kind, module in MODULE_OF.items() if getattr(module, "REFUSED", "")}
    for kind, names in sorted(report.would_halt_services.items()):
        if kind not in refused:
            lines.append(
                f"Dry-run: enforce mode would stop {len(names)} {kind}(s): {' '.join(names)}"
            )
    for kind, names in sorted(report.services_halted.items()):
        lines.append(f"Stopped {len(names)} {kind}(s): {' '.join(names)}")
        if kind in MODULE_OF:
            lines.append(f"  {MODULE_OF[kind].STOP_KEEPS}")
    for kind, names in sorted(report.services_waiting.items()):
        lines.append(
            f"Not stoppable yet, {len(names)} {kind}(s) (still starting: the next run stops "
            f"them): {' '.join(names)}"
        )
    for kind, names in sorted(report.services_kept.items()):
        if kind in refused:  # no stop exists (Bedrock): what refuses it instead
            lines.append(f"Not stoppable, {len(names)} {kind}(s): {' '.join(names)}")
            module = MODULE_OF[kind]
            lines.append(f"  {module.REFUSED if report.launch_blocked else module.NOT_REFUSED}")
            continue
        lines.append(
            f"Left running, {len(names)} {kind}(s) (accounts.yaml halt: does not name "
            f"{MODULE_OF[kind].NAME}; what they burn is in the lines above): {' '.join(names)}"
        )
    for where, error in sorted(report.service_errors.items()):
        lines.append(f"Could NOT count {where}: {error}")
    return lines


def restored_service_lines(undone: dict[str, list[str]]) -> list[str]:
    lines = []
    if undone.get("services_restored"):
        lines.append("Started again (other services): " + " ".join(undone["services_restored"]))
    if undone.get("services_not_yet"):
        lines.append(
            "Still stopped (restore again with restart_instances; one still stopping, in a few "
            "minutes): " + " ".join(undone["services_not_yet"])
        )
    return lines
