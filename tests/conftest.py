"""Suite-wide safety: fake credentials, so nothing in the tests can ever reach real AWS."""

import os
from typing import Any

for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    # moto otherwise loads thousands of AMIs into every region it touches: seconds per test.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}.items():
    os.environ[name] = value
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)


def _share_service_models() -> None:
    """One botocore loader for every session the tests make. Each guard run builds a session of
    its own (as each Lambda invocation does), and each new session parses the service models it
    uses again: about half a second for SageMaker's alone, in every test. A Lambda execution
    environment parses them once; so do the tests now. The loader only reads botocore's data
    files and caches what it parsed."""
    import functools

    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


def _share_client_classes() -> None:
    """One client class and one service model per service for every session the tests make.
    botocore builds both anew for each client (a method per operation, each with its lazy
    docstring: ClientCreator._create_client_class; the model's operations walked again for
    endpoint discovery), and a guard run makes one client per service and Region, about 350,
    each test anew: half a guard test's time. A Lambda execution environment builds them once
    per container (guard/handler.py keeps its ClientFactory). Both depend only on the service's
    data and the session's `creating-client-class` handlers, which are boto3's own in every
    session here (no test registers one); each client still gets its own endpoint, config and
    events."""
    import botocore.client

    build_class = botocore.client.ClientCreator._create_client_class
    load_model = botocore.client.ClientCreator._load_service_model
    classes: dict[tuple[str, str], type] = {}
    models: dict[tuple[str, str | None], Any] = {}

    def shared_class(self: botocore.client.ClientCreator, service_name: str, model: Any) -> type:
        key = (service_name, model.api_version)
        if key not in classes:
            classes[key] = build_class(self, service_name, model)
        return classes[key]

    def shared_model(
        self: botocore.client.ClientCreator, service_name: str, api_version: str | None = None
    ) -> Any:
        key = (service_name, api_version)
        if key not in models:
            models[key] = load_model(self, service_name, api_version)
        return models[key]

    botocore.client.ClientCreator._create_client_class = shared_class  # type: ignore[method-assign]
    botocore.client.ClientCreator._load_service_model = shared_model  # type: ignore[method-assign]


def _load_each_service_model_once() -> None:
    """moto parses a service's model on its first request (`get_service_model`, a cache
    without a lock): a guard's census asks 20 services in 17 Regions from 160 threads at once,
    and every thread parsed the same models in the first test of each worker (40 seconds)."""
    import threading

    import moto.core.responses
    import moto.core.routing
    import moto.core.utils

    parse = moto.core.utils.get_service_model
    lock = threading.Lock()

    def once(service_name: str) -> Any:
        with lock:
            return parse(service_name)

    moto.core.utils.get_service_model = once
    moto.core.routing.get_service_model = once
    moto.core.responses.get_service_model = once  # type: ignore[attr-defined]


_share_service_models()
_share_client_classes()
_load_each_service_model_once()


def _collect_garbage_less_often() -> None:
    """A guard test holds a large heap (moto's backends for 17 Regions and 20 services, the
    parsed service models), and CPython's collector walked it again every 700 allocations'
    worth of young objects: a quarter of a guard test's time. Young collections now run every
    10,000, and what the suite imported before its first test is frozen out of the old
    generation's walks (gc.freeze). Garbage is still collected; the full collections keep their
    usual ratio."""
    import gc

    gc.set_threshold(10_000, 10, 10)


_collect_garbage_less_often()


def pytest_collection_finish(session: Any) -> None:
    import gc

    gc.collect()
    gc.freeze()  # the modules and objects the collection made live to the end
