"""Clients inside every account of the fleet at once, for `runawaytrain status`.

One boto3 session (the caller's, the payer's) makes every client: a client made from a fresh
session costs ~50 times the CPU of one from a session whose models are loaded (~200 ms against
~4 ms, measured here), and 100 accounts read in parallel would spend that CPU under one
interpreter lock. A boto3 session is not thread-safe, its clients are (boto3 guide, "Multithreading
or multiprocessing with clients": "Low-level clients are thread safe"; "Sessions are not thread
safe"): clients are made under a lock and used outside it. AssumeRole goes through one STS client
too, and the caller's account is known once (`check_credentials`), not asked per account.

IAM (the caller): sts:AssumeRole on the fleet's operator_role in each account.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

from guard.clients import CLIENT_CONFIG


class FleetSessions:
    """Clients in any account of the fleet, from one shared session."""

    def __init__(self, session: boto3.session.Session, caller_account: str, region: str) -> None:
        self._session = session
        self._lock = threading.Lock()
        self.caller_account = caller_account
        self._sts = self.make_client("sts", region, None)

    def make_client(self, service: str, region: str, credentials: dict[str, str] | None) -> Any:
        keys = {}
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        with self._lock:
            return self._session.client(service, region_name=region, config=CLIENT_CONFIG, **keys)

    def open_account(self, account_id: str, role_arn: str, session_name: str) -> AccountClients:
        """Clients acting in `account_id`: the operator role assumed into it, or the caller's own
        credentials when the caller is in that account (the payer, where Organizations creates
        no OrganizationAccountAccessRole: account_target.operator_session). Raises the
        AssumeRole failure (AccessDenied: no such role, or not trusted; Throttling once the
        standard retries are spent: guard/clients.py)."""
        if account_id == self.caller_account:
            return AccountClients(self, None)
        answer = self._sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        return AccountClients(self, answer["Credentials"])


class AccountClients:
    """One account's clients, one per service and Region (made once, thread-safe to use)."""

    def __init__(self, sessions: FleetSessions, credentials: dict[str, str] | None) -> None:
        self._sessions = sessions
        self._credentials = credentials
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                made = self._sessions.make_client(service, region, self._credentials)
                self._clients[key] = made
            return self._clients[key]
