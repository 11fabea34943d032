"""Strict SNS: an email subscription is `PendingConfirmation` until its owner confirms it.

AWS lists an email subscription that nobody confirmed with SubscriptionArn "PendingConfirmation"
and delivers nothing to it (Amazon SNS Developer Guide, "Email notifications": "the subscription
remains in the PendingConfirmation state until the recipient confirms"; ListSubscriptionsByTopic
returns that value in place of the ARN). moto lists every subscription with an ARN, confirmed.
`confirm_email(endpoint)` stands in for the recipient clicking the link.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.sns.models import sns_backends
from moto.sns.responses import SNSResponse

from strict_aws.patches import Patches

PENDING = "PendingConfirmation"
EMAIL_PROTOCOLS = ("email", "email-json")


def install(patches: Patches) -> None:
    # The response only: moto's own publish lists the subscriptions as model objects.
    patches.set(SNSResponse, "list_subscriptions_by_topic", _list_subscriptions_by_topic)


def confirm_email(endpoint: str) -> None:
    """The recipient `endpoint` confirmed every subscription of theirs."""
    for regions in sns_backends.values():
        for backend in regions.values():
            for subscription in backend.subscriptions.values():
                if subscription.endpoint == endpoint:
                    subscription.strict_confirmed = True


def _list_subscriptions_by_topic(self: SNSResponse) -> ActionResult:
    found, token = self.backend.list_subscriptions_by_topic(
        self._get_param("TopicArn"), next_token=self._get_param("NextToken")
    )
    listed = [_as_listed(subscription) for subscription in found]
    return ActionResult({"Subscriptions": listed, "NextToken": token})


def _as_listed(subscription: Any) -> Any:
    pending = subscription.protocol in EMAIL_PROTOCOLS and not getattr(
        subscription, "strict_confirmed", False
    )
    return {
        "SubscriptionArn": PENDING if pending else subscription.arn,
        "Owner": subscription.owner,
        "Protocol": subscription.protocol,
        "Endpoint": subscription.endpoint,
        "TopicArn": subscription.topic.arn,
    }
