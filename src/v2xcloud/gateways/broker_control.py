"""Keeping the broker's access rules in step with the device registry, while it runs.

``DynsecControl`` is an MQTT client logged in as the platform's identity (the administrator of
Mosquitto's dynamic-security plugin, see ``gateways.access``); ``send(commands)`` publishes one
command message on ``$CONTROL/dynamic-security/v1`` and returns the plugin's answers.

``AccessSync`` listens to the registry: every change of an MQTT device (added, updated,
disabled, enabled again, removed) becomes the commands of ``access.device_commands``
(``access.remove_commands``) sent through the
control client on the gateways' event loop, so a disabled device loses its rights and its live
connection within one round trip to the broker. A clear password an operator has just set
(``set_password``) travels with the next change of that device and is not kept. Answers the
plugin gives for states that already hold ("Client already exists", "Role not found") are
expected; any other error is counted (``counts["errors"]``) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from concurrent.futures import Future
from typing import Any

import aiomqtt

from v2xcloud.errors import GatewayError
from v2xcloud.gateways.access import (
    CONTROL_RESPONSE_TOPIC,
    CONTROL_TOPIC,
    MQTT_KINDS,
    device_commands,
    remove_commands,
)
from v2xcloud.gateways.mqtt import MqttCredentials, parse_mqtt_url
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Device

__all__ = ["AccessSync", "DynsecControl"]

logger = logging.getLogger(__name__)

#: Answers that mean "already so": creating what exists, deleting or removing what is not there.
_EXPECTED = ("already exists", "not found", "Role not found", "Client not found")
_MAX_PENDING_PASSWORDS = 10_000


class DynsecControl:
    """One control connection to the plugin; ``start``, ``send``, ``stop`` on one event loop."""

    def __init__(
        self,
        url: str,
        *,
        credentials: MqttCredentials,
        client_id: str = "v2xcloud-platform-control",
        timeout_s: float = 5.0,
    ) -> None:
        self.host, self.port = parse_mqtt_url(url)
        self.credentials = credentials
        self._tls = credentials.tls_params(url)
        self.client_id = client_id
        self.timeout_s = timeout_s
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=16)
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect and subscribe to the answers; ``GatewayError`` when the broker refuses."""
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            username=self.credentials.username,
            password=self.credentials.password,
            tls_params=self._tls,
            timeout=self.timeout_s,
            logger=logger,
        )
        try:
            await client.__aenter__()
            await client.subscribe(CONTROL_RESPONSE_TOPIC, qos=1)
        except aiomqtt.MqttError as exc:
            raise GatewayError(
                f"dynamic-security control at {self.host}:{self.port}: {exc} (is the platform's "
                "identity the plugin's administrator?)"
            ) from exc
        self._client = client
        self._reader = asyncio.create_task(self._read(client), name="dynsec-control")

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                answer = json.loads(bytes(message.payload))
            except (TypeError, ValueError) as exc:
                logger.warning("dynamic-security answer is not JSON: %s", exc)
                continue
            if self._answers.full():  # an answer nobody waits for (a timed-out send)
                self._answers.get_nowait()
            self._answers.put_nowait(answer)

    async def send(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send the commands as one message; the plugin's answers, one per command."""
        client = self._client
        if client is None:
            raise GatewayError("dynamic-security control is not started: call start() first")
        async with self._lock:
            while not self._answers.empty():  # late answers of an earlier, timed-out send
                self._answers.get_nowait()
            try:
                await client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
                async with asyncio.timeout(
                    self.timeout_s
                ):  # cancels cleanly (3.11 wait_for may not)
                    answer = await self._answers.get()
            except (aiomqtt.MqttError, TimeoutError) as exc:
                raise GatewayError(
                    f"dynamic-security control at {self.host}:{self.port}: no answer: {exc!r}"
                ) from exc
        responses: list[dict[str, Any]] = answer.get("responses", [])
        return responses

    async def stop(self) -> None:
        """Disconnect."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await reader
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)


class AccessSync:
    """Registry changes → broker rights (see the module docstring).

    ``loop`` is the event loop ``control`` runs on; registry changes may come from any thread.
    ``counts``: ``applied``, ``errors``, ``failed`` (no answer); ``last_apply_ms`` the time
    from a change to the broker's answer.
    """

    def __init__(
        self,
        registry: DeviceRegistry,
        control: DynsecControl,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.control = control
        self.loop = loop
        self.counts: Counter[str] = Counter()
        self.last_apply_ms = 0.0
        self._passwords: dict[str, str] = {}
        self.pending: Future[None] | None = None  # the latest change's application
        registry.listeners.append(self.changed)
        registry.removal_listeners.append(self.removed)

    async def sync_all(self, devices: list[Device], *, per_message: int = 50) -> int:
        """Make the broker match every device of the registry (a broker the platform did not
        configure itself, at start): ``device_commands`` of ``per_message`` devices per control
        message; returns how many devices. A device known only by its password hash keeps the
        password the broker has (the control API takes no hash)."""
        batch: list[dict[str, Any]] = []
        count = 0
        for device in devices:
            commands = device_commands(device)
            if not commands:
                continue
            batch += commands
            count += 1
            if count % per_message == 0:
                await self._apply(f"{count} devices", batch, time.monotonic())
                batch = []
        if batch:
            await self._apply(f"{count} devices", batch, time.monotonic())
        return count

    def set_password(self, device_id: str, password: str) -> None:
        """Forward ``password`` (clear) to the broker with the next change of ``device_id``."""
        if len(self._passwords) >= _MAX_PENDING_PASSWORDS:
            self._passwords.pop(next(iter(self._passwords)))
            self.counts["passwords_dropped"] += 1
            logger.warning(
                "more than %d passwords waiting; the oldest dropped", len(self._passwords)
            )
        self._passwords[device_id] = password

    def changed(self, device: Device) -> None:
        """The registry's listener: apply ``device``'s current state on the broker (on the
        control's loop; ``pending`` is that application, to wait for)."""
        commands = device_commands(device, password=self._passwords.pop(device.device_id, None))
        self._schedule(device.device_id, commands)

    def removed(self, device: Device) -> None:
        """The registry's removal listener: forget the device on the broker."""
        if device.kind in MQTT_KINDS:
            self._schedule(device.device_id, remove_commands(device.device_id))

    def _schedule(self, device_id: str, commands: list[dict[str, Any]]) -> None:
        if not commands:
            return
        if self.loop.is_closed():  # the gateways have stopped: the registry change stands
            self.counts["failed"] += 1
            logger.error("broker rights of %r not applied: the gateways are stopped", device_id)
            return
        self.pending = asyncio.run_coroutine_threadsafe(
            self._apply(device_id, commands, time.monotonic()), self.loop
        )

    async def _apply(self, device_id: str, commands: list[dict[str, Any]], t0: float) -> None:
        try:
            answers = await self.control.send(commands)
        except GatewayError as exc:
            self.counts["failed"] += 1
            logger.error("broker rights of %r not applied: %s", device_id, exc)
            return
        self.last_apply_ms = (time.monotonic() - t0) * 1000.0
        self.counts["applied"] += 1
        for answer in answers:
            error = answer.get("error")
            if error and not any(e in str(error) for e in _EXPECTED):
                self.counts["errors"] += 1
                logger.error(
                    "broker rights of %r: %s answered %r", device_id, answer.get("command"), error
                )
