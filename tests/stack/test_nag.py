"""cdk-nag's AwsSolutions pack over whole apps: no finding left unacknowledged."""

import pytest
from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

APPS = ["sample_app", "test_app"]


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


def collect_acknowledgments(app: App) -> dict[str, str]:
    """Acknowledged rule id -> reason, as CDK records them in construct metadata."""
    found: dict[str, str] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                found.update(entry.data)
    return found


def test_every_acknowledgment_is_a_specific_finding_with_a_reason(sample_app) -> None:
    app, _ = sample_app
    acknowledgments = collect_acknowledgments(app)
    assert acknowledgments, "expected the guard role's wildcard acknowledgments"
    for rule_id, reason in acknowledgments.items():
        # A specific finding (rule + resource), never a whole rule, and a sentence of reason.
        assert rule_id.removeprefix("Annotation::").startswith("AwsSolutions-IAM5[Resource::")
        assert len(reason) > 80, (rule_id, reason)
