"""Deploy-time only: accounts.yaml loading and validation, and the CDK constructs and stacks."""

import os

# jsii, the bridge from aws_cdk to Node, prints an 11-line banner (forwarded to Python as raw
# bytes) on every start once Node's release line is past jsii's support date, unless this
# variable lists that major version (a comma list: @jsii/check-node, `checkNode`). The banner is
# for whoever maintains the machine's Node, not for an operator mid-command; README says which
# Node to install. Set here, before any module of this package imports aws_cdk; a value the user
# set wins.
JSII_SILENCE_VARIABLE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
JSII_SILENCED_MAJORS = ",".join(str(major) for major in range(14, 41))
os.environ.setdefault(JSII_SILENCE_VARIABLE, JSII_SILENCED_MAJORS)
