"""The operator CLI: the same guard code, run from an operator's machine."""
