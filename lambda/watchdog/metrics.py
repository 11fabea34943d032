"""The watchdog's own pulse: one CloudWatch metric datapoint per completed check.

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
