"""Every synthesized template passes cfn-lint (only W3005 ignored) and CDK's own validator: the
guard stacks, the billing stack and every fast-trip Region stack."""

import json
from pathlib import Path

import pytest
from aws_cdk import App
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from runawaytrain_stack.fleet import add_fleet_stacks

# W3005 flags DependsOn that is also implied by a reference: CDK emits both on purpose.
IGNORED_CHECKS = ["W3005"]


def list_templates(outdir: str) -> list[tuple[str, str]]:
    """(template path, region) for each stack in the cloud assembly at `outdir`."""
    manifest = json.loads((Path(outdir) / "manifest.json").read_text())
    return [
        (str(Path(outdir) / artifact["properties"]["templateFile"]), artifact["environment"])
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    ]


def lint_template(path: str, *regions: str) -> list[str]:
    config = ManualArgs(regions=list(regions), ignore_checks=IGNORED_CHECKS)
    return [str(match) for match in lint(Path(path).read_text(), config=config)]


def lint_assembly(outdir: str) -> dict[str, list[str]]:
    """cfn-lint findings per template file of the cloud assembly at `outdir`.

    Templates equal but for their Description (an account's fast-trip Region stacks, up to 16)
    are linted once, against all of their Regions together: each cfn-lint call costs about half
    a second however small the template, which would make the Region stacks minutes of linting.
    """
    groups: dict[str, tuple[str, list[str], list[str]]] = {}
    for path, environment in list_templates(outdir):
        template = json.loads(Path(path).read_text())
        template.pop("Description", None)
        _, names, regions = groups.setdefault(json.dumps(template, sort_keys=True), (path, [], []))
        names.append(Path(path).name)
        regions.append(environment.rsplit("/", 1)[1])
    findings = {}
    for path, names, regions in groups.values():
        found = lint_template(path, *sorted(set(regions)))
        findings.update(dict.fromkeys(names, found))
    return findings


@pytest.mark.parametrize("app_fixture", ["sample_app", "test_app"])
def test_cfn_lint_passes_on_every_template(
    request: pytest.FixtureRequest, app_fixture: str
) -> None:
    app, stacks = request.getfixturevalue(app_fixture)
    findings = lint_assembly(app.outdir)
    # Guards, billing, payer, fast-trip Regions.
    assert len(findings) == len(stacks.guards) + 2 + sum(map(len, stacks.fast_trip.values()))
    assert findings == {name: [] for name in findings}


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    """The check above is live: the same call reports a property AWS does not accept."""
    broken = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"Nme": "x"}}}}
    path = tmp_path / "broken.template.json"
    path.write_text(json.dumps(broken))
    assert any("Nme" in finding for finding in lint_template(str(path), "us-east-1"))


def test_cdk_builtin_validation_reports_nothing(sample_fleet, tmp_path: Path) -> None:
    """new_app() turns this validator off for speed; here it runs over the sample fleet."""
    app = App(outdir=str(tmp_path), builtin_cloud_formation_validation=True)
    add_fleet_stacks(app, sample_fleet)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []
