from tests.guard.conftest import aws, strict  # noqa: F401  (moto, made strict)
