"""The names accounts.yaml's `halt:` (and the guard's `halt` variable) gives each kind of
capacity outside EC2, and whether its halt is reversible. One module per name (services.py);
kept apart from the modules so settings and the deploy-time config read the names without them.

Reversible: the halt keeps what a restore needs to give the account back as it was (a stopped
notebook, an endpoint's configuration). Irreversible: the halt ends work for good (a training
job stopped is not resumed): halted only where `halt:` names it, reported otherwise with what
it burns.
"""

from __future__ import annotations

REVERSIBLE = "reversible"  # in `halt:`: every reversible kind (the default)
ALL = "all"  # in `halt:`: every kind, irreversible ones too

# name -> reversible
KINDS: dict[str, bool] = {
    "sagemaker-notebooks": True,
    "batch-environments": True,
    "batch-jobs": False,
    "eks-nodegroups": True,
    "ecs-services": True,
    "ecs-tasks": False,
    "rds-databases": True,
    # Throttled to 0, a function loses what queues for it: asynchronous events are retried for
    # up to 6 hours then dropped, stream records expire (Lambda Developer Guide, "asynchronous
    # invocation"), so it is halted only where halt: names it, as the irreversible kinds.
    "lambda-functions": False,
    "sagemaker-endpoints": True,
    "sagemaker-jobs": False,
    "sagemaker-clusters": False,
    "redshift-clusters": True,
    "gamelift-fleets": True,
    "bedrock-tokens": False,  # no stop: the launch block refuses invocation (bedrock_tokens.py)
    # Report-only: a stop saves nothing, a delete loses data (lightsail_*, opensearch_domains).
    "lightsail-instances": False,
    "lightsail-databases": False,
    "opensearch-domains": False,
    "nat-gateways": False,  # deleted only where halt: names it; restore does not make it again
    # Removing provisioned concurrency loses no event: the function runs on on-demand
    # concurrency (Lambda Developer Guide, "Managing Lambda provisioned concurrency").
    "lambda-provisioned-concurrency": True,
    # DeleteApp stops and deletes a Studio app: its kernels are gone, only the space's storage
    # stays, and nothing starts it again (sagemaker_apps.py).
    "sagemaker-apps": False,
}


def resolve_halt(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    """The kinds `names` asks to halt; ValueError names the first unknown name."""
    chosen: set[str] = set()
    for name in names:
        if name == REVERSIBLE:
            chosen |= {kind for kind, reversible in KINDS.items() if reversible}
        elif name == ALL:
            chosen |= set(KINDS)
        elif name in KINDS:
            chosen.add(name)
        else:
            raise ValueError(name)
    return frozenset(chosen)


def described() -> str:
    """The accepted names, for an error message."""
    kinds = ", ".join(
        f"{name}{'' if reversible else ' (irreversible)'}" for name, reversible in KINDS.items()
    )
    return f"{REVERSIBLE} (the default), {ALL}, or any of: {kinds}"


DEFAULT_HALT = resolve_halt([REVERSIBLE])
