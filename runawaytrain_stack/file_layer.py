"""A Lambda layer holding files written at synth (data that grows with the fleet: it belongs in
neither the function's environment, 4 KB in all by Lambda's quotas, nor the template, whose
size CloudFormation limits). A layer's content is extracted to /opt in the function's
environment (Lambda Developer Guide, "Accessing layer content from your function")."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from runawaytrain_stack.guard import RUNTIME


def add_file_layer(
    scope: Construct, construct_id: str, *, files: dict[str, str], description: str
) -> lambda_.LayerVersion:
    """A layer with `files` (path under /opt -> text). The asset is staged (copied into the
    cloud assembly, named by its content hash) when the layer is constructed, so the scratch
    folder is removed right after."""
    with tempfile.TemporaryDirectory(prefix="runawaytrain-layer-") as scratch:
        for name, text in files.items():
            path = Path(scratch) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return lambda_.LayerVersion(
            scope,
            construct_id,
            code=lambda_.Code.from_asset(scratch),
            description=description,
            compatible_runtimes=[RUNTIME],
        )
