"""The guard's clients, made once per test process and lent to each test.

A guard run makes a client per service and region, about 180 of them: making them took most of
a guard test's time, not the run (botocore builds each client's class and copies its event
hooks). Clients hold no account state (moto's backends do, and are reset per test), so a test
borrows the clients earlier tests made. What a test hooks into a client's events is taken off
after it; a test that hooks into the session's events (which reach only clients made after)
gets clients of its own.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3

from guard.clients import ClientFactory

_POOL: dict[tuple[str, str], tuple[Any, Any]] = {}  # (service, region) -> (client, its hooks)


class PooledClients(ClientFactory):
    def __init__(self, region: str) -> None:
        super().__init__(boto3.session.Session(region_name=region))
        self._own = False
        register = self.session.events.register

        def register_then_own(*args: Any, **kwargs: Any) -> Any:
            self._own = True  # hooks for the clients made after: this test's own clients
            return register(*args, **kwargs)

        self.session.events.register = register_then_own  # type: ignore[method-assign]

    def client(self, service: str, region: str) -> Any:
        if self._own:
            return super().client(service, region)
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                if key not in _POOL:
                    made = self.session.client(service, region_name=region, config=self.config)
                    _POOL[key] = (made, copy.copy(made.meta.events._emitter))
                self._clients[key] = self.counted(_POOL[key][0])  # give_back unhooks it
            return self._clients[key]

    def give_back(self) -> None:
        """Each borrowed client's hooks as they were when it was made."""
        for key, lent in self._clients.items():
            pooled, hooks = _POOL.get(key, (None, None))
            if lent is pooled:
                lent.meta.events._emitter = copy.copy(hooks)
