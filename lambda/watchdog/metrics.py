"""The watchdog's own pulse: one CloudWatch metric datapoint per completed check; and the fleet's
health as that check found it (how many guards are silent, how many unhealthy).

Logged in CloudWatch's embedded metric format (CloudWatch User Guide, "Specification: Embedded
metric format": a log event whose `_aws.CloudWatchMetrics` names the namespace, dimensions and
metrics becomes a metric, no PutMetricData call and no IAM beyond writing the log). The payer
stack's alarm (runawaytrain_stack/watchdog.py) treats a missing datapoint as breaching: a check
that was not invoked (its rule disabled or deleted, the function deleted, throttled) or did not
complete mails the payer's list. Lambda's own Invocations metric would not: every guard's
heartbeat invokes the same function, so it has datapoints while no check runs.
"""

from __future__ import annotations

import json
import os
import sys
import time

NAMESPACE = "runawaytrain"
CHECKS_METRIC = "WatchdogChecks"
DIMENSION = "FunctionName"  # set by Lambda in AWS_LAMBDA_FUNCTION_NAME (reserved variable)


def emit_check_completed() -> None:
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": CHECKS_METRIC, "Unit": "Count"}],
                }
            ],
        },
        DIMENSION: function,
        CHECKS_METRIC: 1,
    }
    sys.stdout.write(json.dumps(document) + "\n")


# The fleet's health as the check found it, for the payer's dashboard: no dimension (one metric
# each for the whole fleet; an empty dimension set is allowed: "A DimensionSet MAY be empty").
SILENT_METRIC = "GuardsSilent"  # no heartbeat for 3 of their intervals (or never)
UNHEALTHY_METRIC = "GuardsUnhealthy"  # last heartbeat degraded, with errors, or switched off


def emit_fleet_health(silent: int, unhealthy: int) -> None:
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[]],
                    "Metrics": [
                        {"Name": SILENT_METRIC, "Unit": "Count"},
                        {"Name": UNHEALTHY_METRIC, "Unit": "Count"},
                    ],
                }
            ],
        },
        SILENT_METRIC: silent,
        UNHEALTHY_METRIC: unhealthy,
    }
    sys.stdout.write(json.dumps(document) + "\n")
