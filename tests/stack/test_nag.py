"""cdk-nag's AwsSolutions pack over whole apps: no finding left unacknowledged."""

import pytest
from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

APPS = ["sample_app", "test_app", "org_app"]


def describe_violations(app: App) -> list[str]:
    report = AwsSolutionsChecks().validate_scope(app)
    return [
        f"{violation.rule_name}: {[r.construct_path for r in violation.violating_resources]}"
        for violation in report.violations
    ]


@pytest.mark.parametrize("app_fixture", APPS)
def test_aws_solutions_checks_find_nothing(
    request: pytest.FixtureRequest, app_fixture: str
) -> None:
    app, _ = request.getfixturevalue(app_fixture)
    assert describe_violations(app) == []


# Whole rules acknowledged on one construct each (the construct path's ending): the fast-trip
# queue has no dead-letter queue on purpose (runawaytrain_stack/fast_trip.py says why).
# The settings bucket keeps no access logs (runawaytrain_stack/settings_store.py says why).
RULES_ACKNOWLEDGED_ON_ONE_CONSTRUCT = {
    "AwsSolutions-SQS3": "/FastTrip/Queue",
    "AwsSolutions-S1": "/Settings/Bucket",
}


def collect_acknowledgments(app: App) -> list[tuple[str, str, str]]:
    """(construct path, acknowledged rule id, reason), as CDK records them in construct metadata."""
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                found += [(construct.node.path, rule, why) for rule, why in entry.data.items()]
    return found


def test_every_acknowledgment_is_a_specific_finding_with_a_reason(sample_app) -> None:
    app, _ = sample_app
    acknowledgments = collect_acknowledgments(app)
    assert acknowledgments, "expected the guard role's wildcard acknowledgments"
    for path, annotated_id, reason in acknowledgments:
        # A specific finding (rule + resource, or a rule on one named construct), never a whole
        # rule across the app, and a sentence of reason.
        rule_id = annotated_id.removeprefix("Annotation::")
        if rule_id in RULES_ACKNOWLEDGED_ON_ONE_CONSTRUCT:
            assert path.endswith(RULES_ACKNOWLEDGED_ON_ONE_CONSTRUCT[rule_id]), (rule_id, path)
        else:
            assert rule_id.startswith("AwsSolutions-IAM5[Resource::"), (rule_id, path)
        assert len(reason) > 80, (rule_id, reason)
