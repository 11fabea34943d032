"""A real IAM policy evaluator for the tests: @cloud-copilot/iam-simulate, run by Node.

moto evaluates actions only, and its condition support is StringEquals; an SCP's meaning is in
its conditions (`ArnNotLike aws:PrincipalArn`), so the SCP tests ask a maintained simulator that
implements every condition operator, SCPs and cross-account rules. It validates each request
too (the action exists, the resource ARN fits the action, the context keys are allowed), so a
typo in a policy or a request fails the test instead of passing it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("iam_simulate.mjs")
FULL_AWS_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass(frozen=True)
class Request:
    """One API call by `principal` (an IAM user or role ARN: for a role session, the role)."""

    name: str
    principal: str
    action: str
    resource: str
    account: str  # the resource's account
    context: dict[str, Any] = field(default_factory=dict)
    resource_policy: dict[str, Any] | None = None  # e.g. the bus policy of a cross-account bus
    identity_policy: dict[str, Any] = field(default_factory=lambda: ADMIN)


def simulate(requests: list[Request], scps: list[dict[str, Any]]) -> dict[str, str]:
    """Evaluate each request as an administrator's (AdministratorAccess-like identity policy,
    unless the request names another) in an account whose SCPs are FullAWSAccess plus `scps`.

    Returns name -> Allowed | ExplicitlyDenied | ImplicitlyDenied; a request the simulator
    rejects as invalid raises, naming it.
    """
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node not found: the SCP tests need Node (the README's set-up has it)")
    cases = [
        {
            "name": request.name,
            "simulation": {
                "identityPolicies": [{"name": "identity", "policy": request.identity_policy}],
                "serviceControlPolicies": [
                    {
                        "orgIdentifier": request.principal.split(":")[4],
                        "policies": [
                            {"name": "FullAWSAccess", "policy": FULL_AWS_ACCESS},
                            *(
                                {"name": f"scp{index}", "policy": scp}
                                for index, scp in enumerate(scps)
                            ),
                        ],
                    }
                ],
                "resourceControlPolicies": [],
                **(
                    {"resourcePolicy": request.resource_policy}
                    if request.resource_policy is not None
                    else {}
                ),
                "request": {
                    "action": request.action,
                    "principal": request.principal,
                    "resource": {"accountId": request.account, "resource": request.resource},
                    "contextVariables": {"aws:PrincipalArn": request.principal, **request.context},
                },
            },
        }
        for request in requests
    ]
    completed = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=ROOT,  # node_modules
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"iam-simulate failed: {completed.stderr.strip()[-2000:]}")
    results = json.loads(completed.stdout)
    errors = {r["name"]: r["errors"] for r in results if r["result"] == "Error"}
    if errors:
        raise ValueError(f"invalid simulation requests: {json.dumps(errors)[:3000]}")
    return {r["name"]: r["result"] for r in results}
