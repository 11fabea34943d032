"""What the mail says about capacity outside EC2 (services.py): counted, halted, waiting,
restored."""

from __future__ import annotations

from guard.report import Report

WHAT_A_STOP_KEEPS = {
    "SageMaker notebook instance": "Kept: its ML storage volume (/home/ec2-user/SageMaker). Lost: "
    "files elsewhere on the instance, installed packages, running kernels. Restore with "
    "restart_instances starts them; their lifecycle OnStart script runs again.",
}


def service_lines(report: Report) -> list[str]:
    lines: list[str] = []
    if report.services and report.verdict != "restore":
        lines.append("Other services, billing now, by region (not in the EC2 count):")
        for kind, by_region in sorted(report.services.items()):
            where = ", ".join(f"{region} {n}" for region, n in sorted(by_region.items()))
            lines.append(f"  {kind}: {where}")
    for kind, names in sorted(report.would_halt_services.items()):
        lines.append(f"Dry-run: enforce mode would stop {len(names)} {kind}(s): {' '.join(names)}")
    for kind, names in sorted(report.services_halted.items()):
        lines.append(f"Stopped {len(names)} {kind}(s): {' '.join(names)}")
        lines.append(f"  {WHAT_A_STOP_KEEPS.get(kind, '')}".rstrip())
    for kind, names in sorted(report.services_waiting.items()):
        lines.append(
            f"Not stoppable yet, {len(names)} {kind}(s) (still starting: the next run stops "
            f"them): {' '.join(names)}"
        )
    for where, error in sorted(report.service_errors.items()):
        lines.append(f"Could NOT count {where}: {error}")
    return [line for line in lines if line.strip()]


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
