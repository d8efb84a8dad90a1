"""The platform as a service: the runtime fed by the device gateways, answering through them.

``Platform`` wires one deployment: the device registry (kept in the history store's ``devices``
table), per-device health and rate limits, the ingest path, the MQTT gateway with its
down-link, the UDP gateway and the GB/T 32960 server. The network side runs on one asyncio
loop on its own thread ("gateways"); the tick runs on the serve loop's thread and, before each
tick, ``before_tick`` drains the ingress queue into the runtime there (the scene is only ever
touched by the tick's thread). Deliveries leave through the down-link, which only enqueues.

With ``mqtt_credentials`` the MQTT gateway logs in to an authenticated broker; with
``manage_broker_access`` as well, the platform's control identity (``control_credentials``,
apart from the gateway's: the broker makes the username the client id) keeps the broker's
per-device rights in step with the registry (``gateways.broker_control.AccessSync``): a device disabled or
removed here loses its rights and its live connection on the broker. A ``password`` in an
API body is stored hashed (``Device.password_hash``) and handed to the broker once.

``devices(now_ms)`` / ``device(id)`` / ``add`` / ``update`` / ``disable`` / ``remove`` are what
the ``/api/devices`` routes call (``api.routes_devices.DeviceDirectory``); ``ev`` (an
``ev.monitor.EvMonitor``: the GB/T 32960 server's report and alarm sink, passing reports on to
``ev_report_sink``, the history's) is what the ``/api/ev`` routes read. ``downlink_signer`` (a
``runtime.OutboundSigner``, e.g. ``security.signers.PlatformSigner`` when a PKI is configured)
signs every RSI and advisory the down-link sends. In a cluster that is the gateway tier's
down-link, which sends the workers' and the centre's RSI (each under its tier's sender id,
``backbone.RsiDelivery.sender_id``) and warnings: the signing key lives there only, and the
centre role refuses a signer.

With ``nats_urls`` every accepted frame is also published to the JetStream backbone
(``gateways.nats.FrameForwarder``, subjects ``v2x.{tenant}.{tile}.{cell}.{type}``); as
``role="gateway"`` the runtime only judges frames (no scene, no applications: the edge
workers run them), its dead letters go to the ``V2X_DEAD`` stream for the centre tier, and the
workers' new warnings (``V2X_DELIVERIES``, read from now on) leave through its down-link to
the vehicles it has heard from.
As ``role="centre"`` (with ``remote``, a ``runtime.remote.RemoteResults`` that is the
runtime's application) it runs no device gateway: ``gateways.nats.ResultFeed`` reads the
workers' advisories, road events and dead letters (durable consumers, explicit acks) and the
runtime's tick puts them in force, so the API, the dashboard and the history show one view
over every worker (and ``stats()["centre"]["workers"]``, in ``/api/stats``, who runs which
tiles: ``gateways.tile_worker.WorkerRoster`` over their heartbeats); with ``corridor`` (a
``runtime.corridor.CorridorCongestion``, one of the runtime's detectors) it also reads the workers' tile traffic (``V2X_TRAFFIC``) and detects
congestion along corridors that cross tiles. Its live map is the workers': each sends its
owned tiles' road users twice a second (``live.{tenant}.{tile}``, core NATS), the centre's
``gateways.live_feed.SnapshotIntake`` puts them in ``live_map`` (a ``runtime.live_map.LiveMap``,
stale after ``live_stale_ms``, a tile's snapshot dropped once the heartbeats name another
owner), which the serve loop's ``api.runtime_live.RuntimeLive`` serves as its participants. The RSI of the events its own detectors find
goes on the deliveries stream (``gateways.nats.CentreRsi``, ``dlv.{tenant}.{tile}.rsi``), from
where the gateway tier sends it to the RSUs in range, as it does the workers' RSI.

EV reports: the GB/T 32960 server runs in whichever process has ``gb32960``. With the
backbone, each report it accepts is also published as its frame on ``ev.{tenant}.{vin}``
(``V2X_EV``, ``runtime.backbone.EvFrame``; a full publisher refuses the report, so the
terminal sends it again). The centre reads that stream into the same EV analytics the
single process runs (``ev.centre.BackboneReports``: ``ev.session.deliver_report`` with the
alarm monitor of ``ev.centre.ev_analytics``), feeding its ``ev`` monitor, the ``/api/ev``
routes and the history. The gateway tier keeps its own live fleet view but raises no alarms
and writes no EV history (the centre does both: once across the tiers); ``role="all"`` judges its
reports itself and publishes them too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from collections.abc import Coroutine, Sequence
from typing import Any

import msgspec

from v2xcloud.codec import MessageSet, prepare
from v2xcloud.errors import ConfigError, GatewayError
from v2xcloud.ev.anomaly import AnomalyThresholds
from v2xcloud.ev.centre import BackboneReports, ev_analytics
from v2xcloud.ev.monitor import EvMonitor, History
from v2xcloud.gateways.access import hash_password
from v2xcloud.gateways.base import IngressQueue
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.gateways.broker_control import AccessSync, DynsecControl
from v2xcloud.gateways.downlink import Downlink
from v2xcloud.gateways.health import DeviceHealth
from v2xcloud.gateways.ingest import Ingestor
from v2xcloud.gateways.limits import RateLimits, TenantLimits
from v2xcloud.gateways.live_feed import SnapshotIntake
from v2xcloud.gateways.mqtt import MqttCredentials, MqttGateway
from v2xcloud.gateways.nats import (
    BackbonePublisher,
    CentreRsi,
    FrameForwarder,
    Outgoing,
    ResultFeed,
)
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.gateways.tile_worker import MEMBERS_BUCKET, WorkerRoster
from v2xcloud.gateways.udp import UdpGateway, default_ports, parse_udp_address
from v2xcloud.model import Advisory, Device, MisbehaviourReport, RoadEvent
from v2xcloud.model.ev import EvReport
from v2xcloud.model.ev_fleet import Charger
from v2xcloud.runtime import FrameGuard, OutboundSigner, Rsu, Runtime, backbone
from v2xcloud.runtime.corridor import CorridorCongestion
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.runtime.live_map import STALE_MS, LiveMap
from v2xcloud.runtime.remote import RemoteResults
from v2xcloud.runtime.screen import FlagBook
from v2xcloud.security import Coverage, MisbehaviourDetector

__all__ = [
    "ROLES",
    "Platform",
    "downlink_signer",
    "misbehaviour_screen",
    "security_stage",
]

logger = logging.getLogger(__name__)

#: ``serve --role``: everything in one process (default); the gateway tier only (frames to the
#: NATS backbone, no scene); the centre tier (results from the backbone to history and API).
ROLES = ("all", "gateway", "centre")


def misbehaviour_screen(rsus: Sequence[Rsu]) -> MisbehaviourDetector:
    """The platform's misbehaviour screen (``Runtime(screen=...)``): one detector whose
    receiver and perception coverage are the deployment's RSUs. Module-level, so the bench can
    hand it to its worker processes by name."""
    return MisbehaviourDetector(
        coverage=[
            Coverage(
                rsu_id=r.rsu_id,
                lat_deg=r.lat_deg,
                lon_deg=r.lon_deg,
                range_m=r.range_m,
                perceives_all=r.perceives_all,
            )
            for r in rsus
        ]
    )


def security_stage(
    pki_dir: str | None, policy: str | None, *, window_ms: int = 5_000
) -> FrameGuard | None:
    """The receive-side security stage of ``serve --pki DIR --security-policy POLICY`` (the
    runtime's frame guard: signed frames verified against the PKI's trust anchors before
    decoding; ``window_ms`` the freshness window), or None without ``--pki``. ``ConfigError`` for a missing PKI or a bad policy."""
    if pki_dir is None:
        return None
    from v2xcloud.security.pki import load_pki
    from v2xcloud.security.verify import Policy, stage_from_pki

    stage = stage_from_pki(
        load_pki(pki_dir), policy=Policy.parse(policy or "verify-if-signed"), window_ms=window_ms
    )
    logger.info(
        "security: frames verified against %s (%s), policy %s",
        pki_dir,
        stage.trust.stats(),
        stage.policy,
    )
    return stage


def downlink_signer(pki_dir: str | None) -> OutboundSigner | None:
    """The signer of ``serve --pki DIR``'s down-link (every RSI and advisory it sends carries
    the PKI's platform certificate and signature), or None without ``--pki``."""
    if pki_dir is None:
        return None
    from v2xcloud.security.pki import load_pki
    from v2xcloud.security.signers import PlatformSigner

    signer = PlatformSigner(load_pki(pki_dir))
    logger.info("security: the down-link signs with %s's platform certificate", pki_dir)
    return signer


class Platform:
    """One deployment's gateways around ``runtime`` (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        registry: DeviceRegistry,
        *,
        mqtt_url: str | None = None,
        udp: str | None = None,
        gb32960: str | None = None,
        allow_unknown: bool = False,
        ev_report_sink: Any | None = None,
        mqtt_client_id: str = "v2xcloud-platform",
        queue_capacity: int = 50_000,
        ev_secrets: Any | None = None,
        audit: Any | None = None,
        downlink_signer: OutboundSigner | None = None,
        ev_signatures: Any | None = None,
        mqtt_credentials: MqttCredentials | None = None,
        control_credentials: MqttCredentials | None = None,
        manage_broker_access: bool = False,
        broker: Mosquitto | None = None,
        tenant_limits: TenantLimits | None = None,
        nats_urls: Sequence[str] | None = None,
        role: str = "all",
        frames_max_age_s: float = 120.0,
        shard_zoom: int | None = None,
        remote: RemoteResults | None = None,
        corridor: CorridorCongestion | None = None,
        ev_chargers: Sequence[Charger] | None = None,
        ev_history: History | None = None,
        live_stale_ms: int = STALE_MS,
    ) -> None:
        if role not in ROLES:
            raise ConfigError(f"role {role!r}: choose one of {', '.join(ROLES)}")
        if role in ("gateway", "centre") and not nats_urls:
            raise ConfigError(f"the {role} role works on the backbone: give --nats URL")
        if role == "centre" and (remote is None or mqtt_url or udp):
            raise ConfigError(
                "the centre role reads the workers' results (a RemoteResults app in its "
                "runtime); devices connect to the gateway tier: drop --mqtt/--udp"
            )
        if role == "centre" and downlink_signer is not None:
            raise ConfigError(
                "the centre role has no down-link: the gateway tier signs what it sends to "
                "devices, the centre's RSI included (give the signer to the gateway platform)"
            )
        self.remote = remote
        self.corridor = corridor  # the centre's corridor detector: fed the workers' traffic
        self.centre: ResultFeed | None = None
        self.warnings_feed: ResultFeed | None = None
        self.flags_feed: ResultFeed | None = None
        self.flags: FlagBook | None = None  # the gateway tier's: senders the workers flagged
        self._flags_in: deque[MisbehaviourReport] = deque(maxlen=100_000)
        # the workers' new warnings and their events' RSI, for the down-link
        self._warnings: deque[Advisory | backbone.RsiDelivery] = deque(maxlen=100_000)
        self.runtime = runtime
        self.role = role
        self.nats_urls = list(nats_urls) if nats_urls else []
        self.frames_max_age_s = frames_max_age_s
        self.shard_zoom = shard_zoom  # frames sharded by place (backbone.shard_of), opt-in
        self.publisher: BackbonePublisher | None = None
        self.forwarder: FrameForwarder | None = None
        self.ev_secrets = ev_secrets  # cli._ev_access.EvSecrets; None: no terminal secrets
        self.audit = audit  # store.audit.AuditTrail: refused EV logins are recorded there
        self.ev_signatures = ev_signatures  # ev.signature.FrameSignatureCheck; None: parsed only
        self.registry = registry
        self.health = DeviceHealth()
        self.limits = RateLimits()
        self.queue = IngressQueue(capacity=queue_capacity)
        self.ingest = Ingestor(
            runtime,
            registry,
            dead_letter=runtime.dead_letter,
            health=self.health,
            limits=self.limits,
            tenant_limits=tenant_limits,
            allow_unknown=allow_unknown,
            run_scene=role != "gateway",
        )
        self.mqtt_url = mqtt_url
        self.udp = parse_udp_address(udp) if udp else None
        self.gb32960 = _host_port(gb32960, "--gb32960") if gb32960 else None
        self.mqtt: MqttGateway | None = None
        self.udp_gateway: UdpGateway | None = None
        self.downlink: Downlink | None = None
        self.ev_report_sink = ev_report_sink  # the history's: it flushes on its own thread
        self.ev = EvMonitor(
            clock=runtime.clock.now_ms,
            thresholds=AnomalyThresholds(),  # the alarm monitor's detector checks with these
            # the gateway tier's reports reach the history through the centre (V2X_EV): once
            forward=ev_report_sink if role != "gateway" else None,
            history=ev_history,
            chargers=list(ev_chargers or []),
        )
        self.gb_server: Any | None = None
        self.ev_backbone: BackboneReports | None = None  # the centre's EV analytics
        self.centre_rsi: CentreRsi | None = None  # the centre's RSI down-link
        self.roster: WorkerRoster | None = None  # the centre's view of the edge workers
        self.live_stale_ms = live_stale_ms
        self.live_map: LiveMap | None = None  # the centre's: the workers' tile snapshots
        self.live_intake: SnapshotIntake | None = None
        self._ev_encoder = msgspec.json.Encoder()
        self.mqtt_client_id = mqtt_client_id
        self.downlink_signer = downlink_signer
        self.mqtt_credentials = mqtt_credentials
        self.control_credentials = control_credentials
        self.manage_broker_access = manage_broker_access
        self.broker = broker  # started for this platform: stopped with it
        self.broker_control: DynsecControl | None = None
        self.access: AccessSync | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.counts: Counter[str] = Counter()

    # -- dead letters and the tick ------------------------------------------------------------

    def before_tick(self, now_ms: int) -> None:
        """Drain what the gateways received (and, as the centre, the workers' road events and
        dead letters) into the runtime (on the tick's thread)."""
        self.ingest.drain(self.queue)
        if self.remote is not None:
            self.remote.feed(self.runtime, now_ms)
        if self.warnings_feed is not None:
            self._send_warnings(now_ms)
        if self.flags is not None:
            while self._flags_in:
                report = self._flags_in.popleft()
                self.flags.flag(report, report.flagged_at_ms)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, *, timeout_s: float = 15.0) -> None:
        """Compile the message sets (seconds each; on the first frame it would stall the tick),
        start the gateways' loop thread and every configured gateway; raise if one fails."""
        for message_set in MessageSet:
            prepare(message_set)
        if self.role == "centre":
            self._start_centre(timeout_s)
        elif self.nats_urls:
            self._start_backbone(timeout_s)
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run_loop, args=(ready,), name="gateways", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout_s):
            raise GatewayError(f"the gateways' event loop did not start within {timeout_s} s")
        self._call(self._start_gateways(), timeout_s + 5.0)

    def _start_backbone(self, timeout_s: float) -> None:
        """Publish every accepted frame to JetStream (and, as the gateway tier, the dead
        letters too: the centre tier records them)."""
        from v2xcloud.runtime.tiles import place_of

        self.publisher = BackbonePublisher(
            self.nats_urls, frames_max_age_s=self.frames_max_age_s, shard_zoom=self.shard_zoom
        ).start(timeout_s=timeout_s)
        self.forwarder = FrameForwarder(
            self.publisher,
            dead_letter=self.ingest.dead_letter_later,
            place_of=place_of,
            tenant_of=self.tenant_of,
        )
        self.ingest.forward = self.forwarder
        if self.role == "gateway":
            self.runtime.add_dead_letter_sink(self.forwarder.dead_letters)
            self._start_warnings(timeout_s)
            self._start_flags(timeout_s)

    def _start_centre(self, timeout_s: float) -> None:
        """Read the workers' advisories, events and dead letters into this runtime."""
        remote = self.remote
        assert remote is not None
        handlers: dict[str, Any] = {
            backbone.ADVISORIES: remote.put_advisory,
            backbone.EVENTS: remote.put_event,
            backbone.DEAD: remote.put_dead_letter,
            backbone.MISBEHAVIOUR: remote.put_misbehaviour,
        }
        if self.corridor is not None:
            handlers[backbone.TRAFFIC] = self.corridor.put
        self.ev_backbone = BackboneReports(
            self.ev, clock=self.runtime.clock.now_ms, dead_letter=remote.put_dead_letter
        )
        handlers[backbone.EV] = self.ev_backbone.put
        # the RSI of the centre's own events (corridor congestion) to the gateways' down-link
        self.publisher = BackbonePublisher(
            self.nats_urls,
            frames_max_age_s=self.frames_max_age_s,
            name="v2xcloud-centre",
            shard_zoom=self.shard_zoom,
        ).start(timeout_s=timeout_s)
        events = self.runtime.events
        self.centre_rsi = CentreRsi(
            self.publisher,
            lambda: events.round,
            message_set=self.runtime.message_set,
            failures=self.runtime.failures,
        )
        self.runtime.add_delivery_sink(self.centre_rsi)
        self.roster = WorkerRoster()  # who runs which tiles: the workers' heartbeats
        self.live_map = LiveMap(stale_ms=self.live_stale_ms, owners=self.roster.owners)
        self.live_intake = SnapshotIntake(
            self.live_map, on_bad=remote.put_dead_letter, now_ms=self.runtime.clock.now_ms
        )
        self.centre = ResultFeed(
            self.nats_urls,
            handlers=handlers,
            on_bad=remote.put_dead_letter,
            now_ms=self.runtime.clock.now_ms,
            with_subject=(backbone.EVENTS,),  # a worker's events are unique per tile
            kv_watch={MEMBERS_BUCKET: self.roster.put},
            core={backbone.LIVE_SUBJECTS: self.live_intake},  # the workers' live map
            shard_zoom=self.shard_zoom,
        ).start(timeout_s=timeout_s)

    def _start_warnings(self, timeout_s: float) -> None:
        """The gateway tier's down-link of the workers' new warnings (``V2X_DELIVERIES``),
        read from now on under this gateway's own durable consumer."""
        self.warnings_feed = ResultFeed(
            self.nats_urls,
            handlers={backbone.DELIVERIES: self._warnings.append},
            on_bad=self.ingest.dead_letter_later,
            durable_prefix=f"{backbone.token(self.mqtt_client_id)}-gateway",
            new_only=True,
            now_ms=self.runtime.clock.now_ms,
            shard_zoom=self.shard_zoom,
        ).start(timeout_s=timeout_s)

    def _start_flags(self, timeout_s: float) -> None:
        """The gateway tier refuses the BSMs of senders the workers flagged
        (``V2X_MISBEHAVIOUR``, its whole window read at each start by an ephemeral consumer)
        before they reach the backbone (``Ingestor.flags``)."""
        self.flags = FlagBook()
        self.ingest.flags = self.flags
        self.flags_feed = ResultFeed(
            self.nats_urls,
            handlers={backbone.MISBEHAVIOUR: self._flags_in.append},
            on_bad=self.ingest.dead_letter_later,
            durable_prefix=f"{backbone.token(self.mqtt_client_id)}-flags",
            durable=False,
            now_ms=self.runtime.clock.now_ms,
            shard_zoom=self.shard_zoom,
        ).start(timeout_s=timeout_s)

    def _send_warnings(self, now_ms: int) -> None:
        """Hand the workers' new warnings and their events' RSI (``backbone.RsiDelivery``, to
        the registry's RSUs in range of the event) to the down-link (on the tick's thread)."""
        deliveries = []
        disseminator = self.runtime.delivery.disseminator
        while self._warnings:
            item = self._warnings.popleft()
            if isinstance(item, backbone.RsiDelivery):
                deliveries.append(
                    Delivery(
                        key=item.key,
                        reason=item.reason,
                        at_ms=item.at_ms,
                        payload=item.event,
                        rsus=disseminator.rsus_near_event(self.runtime.scene.frame, item.event),
                        rsi_uper=item.rsi_uper,
                        rsi_error=item.rsi_error,
                        sender_id=item.sender_id,
                    )
                )
                continue
            adv = item
            deliveries.append(
                Delivery(
                    key=f"{adv.app}|{adv.ego_id}|{adv.other_id}|{adv.issued_ms}",
                    reason="new",
                    at_ms=adv.issued_ms,
                    payload=adv,
                    participants=(adv.ego_id,),
                )
            )
        if not deliveries:
            return
        if self.downlink is None:
            self.counts["warnings_without_downlink"] += len(deliveries)
            return
        rsi = sum(isinstance(d.payload, RoadEvent) for d in deliveries)
        self.counts["rsi_to_downlink"] += rsi
        self.counts["warnings_to_downlink"] += len(deliveries) - rsi
        self.downlink.deliver(deliveries, now_ms=now_ms)

    def _run_loop(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _call(self, coro: Coroutine[Any, Any, Any], timeout_s: float) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    async def _start_gateways(self) -> None:
        if self.mqtt_url:
            self.mqtt = MqttGateway(
                self.mqtt_url,
                self.queue,
                dead_letter=self.ingest.dead_letter_later,
                client_id=self.mqtt_client_id,
                credentials=self.mqtt_credentials,
            )
            self.downlink = Downlink(
                self.registry,
                self.health,
                self.mqtt.publish,
                participant_device=self.ingest.device_of,
                signer=self.downlink_signer,
            )
            self.mqtt.on_ack = self.downlink.on_ack
            self.downlink.start()
            self.runtime.add_delivery_sink(self.downlink)
            await self.mqtt.start()
            if self.manage_broker_access:
                await self._start_access(self.mqtt_url)
        if self.udp is not None:
            host, port = self.udp
            self.udp_gateway = UdpGateway(
                self.queue,
                dead_letter=self.ingest.dead_letter_later,
                ports=default_ports(port),
                host=host,
                resolve=self.registry.by_address,
                keep_signed=self.runtime.guard is not None,  # the security stage verifies
            )
            await self.udp_gateway.start()
        if self.gb32960 is not None:
            from v2xcloud.cli._ev_access import EvSecrets, RegistryTerminals
            from v2xcloud.ev.access import TerminalAccess
            from v2xcloud.ev.server import Gb32960Server

            secrets = self.ev_secrets or EvSecrets()
            host, port = self.gb32960
            self.gb_server = Gb32960Server(
                report_sink=self.ev,
                # the gateway tier leaves the judging to the centre (reports on the backbone)
                monitor=None
                if self.role == "gateway"
                else ev_analytics(self.ev, clock=self.runtime.clock.now_ms),
                forward=self._forward_ev if self.publisher is not None else None,
                clock=self.runtime.clock,
                flush_interval_s=0.0 if self.ev_report_sink is not None else 1.0,
                host=host,
                port=port,
                access=TerminalAccess(
                    RegistryTerminals(
                        self.registry, secrets.terminals, signatures=self.ev_signatures
                    ),
                    platform_accounts=secrets.platform_accounts,
                    dead_letter=self.ingest.dead_letter_later,
                    audit=self.audit,
                ),
                dead_letter=self.ingest.dead_letter_later,
                signatures=self.ev_signatures,
            )
            await self.gb_server.start()
            self.ev.connected = self.gb_server.registry.active.__contains__

    def _forward_ev(self, report: EvReport, frame: bytes, received_at_ms: int) -> None:
        """Publish one accepted GB/T 32960 report's frame on ``ev.{tenant}.{vin}`` (the
        session's ``forward``); ``GatewayError`` when the publisher is full (the terminal is
        refused and sends it again)."""
        assert self.publisher is not None
        vin = report.vin
        item = backbone.EvFrame(
            vin=vin, received_at_ms=received_at_ms, frame=frame, gateway=self.mqtt_client_id
        )
        outgoing = Outgoing(
            backbone.ev_subject(self.tenant_of(vin) or "_", vin),
            self._ev_encoder.encode(item),
            {
                backbone.HEADER_MSG_ID: backbone.ev_msg_id(vin, report.collected_at_ms),
                backbone.HEADER_DEVICE: vin,
                backbone.HEADER_RECEIVED_MS: str(received_at_ms),
            },
        )
        if not self.publisher.submit(outgoing):
            self.counts["ev_refused"] += 1
            raise GatewayError(
                f"EV report of {vin}: backbone publisher full "
                f"({self.publisher.capacity} waiting for PubAcks)"
            )
        self.counts["ev_published"] += 1

    async def _start_access(self, url: str) -> None:
        if self.control_credentials is None:
            raise ConfigError(
                "managing the broker's rights needs the platform's control identity "
                "(control_credentials: control.crt of --mqtt-tls)"
            )
        self.broker_control = DynsecControl(
            url, credentials=self.control_credentials, client_id=f"{self.mqtt_client_id}-control"
        )
        await self.broker_control.start()
        assert self._loop is not None
        self.access = AccessSync(self.registry, self.broker_control, self._loop)
        if self.broker is None:  # a broker configured elsewhere: bring it in step first
            synced = await self.access.sync_all(self.registry.all())
            logger.info("broker rights of %d devices applied", synced)

    def stop(self) -> None:
        """Stop every gateway, the loop thread, the backbone publisher (after what it holds is
        acked, up to 5 s) and the broker started for the platform."""
        try:
            self._stop_loop()
            if self.publisher is not None:
                self.publisher.stop()
            if self.centre is not None:
                self.centre.stop()
            if self.warnings_feed is not None:
                self.warnings_feed.stop()
            if self.flags_feed is not None:
                self.flags_feed.stop()
        finally:
            if self.broker is not None:
                self.broker.stop()

    def _stop_loop(self) -> None:
        if self._loop is None:
            return
        try:
            self._call(self._stop_gateways(), 15.0)
        except Exception as exc:  # shutting down anyway: say what failed
            logger.warning("stopping the gateways: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10.0)
        self._loop = None

    async def _stop_gateways(self) -> None:
        if self.broker_control is not None:
            await self.broker_control.stop()
        if self.mqtt is not None:
            await self.mqtt.stop()
        if self.downlink is not None:
            await self.downlink.stop()
        if self.udp_gateway is not None:
            await self.udp_gateway.stop()
        if self.gb_server is not None:
            await self.gb_server.close()

    # -- the API's view -------------------------------------------------------------------------

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        """Every registered device with its health."""
        return [self._view(d, now_ms) for d in self.registry.all()]

    def device(self, device_id: str, now_ms: int) -> dict[str, Any] | None:
        """One device with its health, or None."""
        found = self.registry.get(device_id)
        return None if found is None else self._view(found, now_ms)

    def _view(self, device: Device, now_ms: int) -> dict[str, Any]:
        doc: dict[str, Any] = msgspec.to_builtins(device)
        doc["has_password"] = bool(doc.pop("password_hash", ""))  # the hash never leaves
        doc["health"] = self.health.snapshot(device.device_id, now_ms)
        if self.downlink is not None:
            doc["health"]["downlink"]["pending"] = self.downlink.pending(device.device_id)
        return doc

    def _take_password(self, device_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A clear ``password`` in an API body becomes ``password_hash`` (and goes to the
        broker once, with the change); a ``password_hash`` is taken as it is."""
        if "password" not in body:
            return body
        body = dict(body)
        password = body.pop("password")
        if not isinstance(password, str):
            raise ConfigError(f"device {device_id!r}: password must be a string")
        body["password_hash"] = hash_password(password)
        if self.access is not None:
            self.access.set_password(device_id, password)
        return body

    def add(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Register a device from an API body; ``ConfigError`` naming what is wrong."""
        body = self._take_password(str(body.get("device_id", "")), body)
        try:
            device = msgspec.convert(body, Device)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"device: {exc}") from exc
        if device.registered_ms == 0:
            device = msgspec.structs.replace(device, registered_ms=now_ms)
        self.registry.add(device)
        self._refresh_rsus()
        return self._view(device, now_ms)

    def update(self, device_id: str, changes: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Change fields of a device (``KeyError`` if unknown, ``ConfigError`` if invalid)."""
        device = self.registry.update(device_id, self._take_password(device_id, changes))
        self._refresh_rsus()
        return self._view(device, now_ms)

    def disable(self, device_id: str, now_ms: int) -> dict[str, Any]:
        """Refuse a device's traffic from now on."""
        device = self.registry.disable(device_id)
        self._refresh_rsus()
        return self._view(device, now_ms)

    def remove(self, device_id: str, now_ms: int) -> dict[str, Any]:
        """Forget a device (``KeyError`` if unknown); returns it as it was, disabled."""
        device = self.registry.remove(device_id)
        view = self._view(device, now_ms)
        self.health.remove(device_id)
        self._refresh_rsus()
        return view

    def _refresh_rsus(self) -> None:
        """Dissemination addresses the registered, enabled RSUs with a position."""
        self.runtime.delivery.disseminator.rsus = tuple(self.registry.rsus())

    def stats(self) -> dict[str, Any]:
        """Gateway, ingest and down-link counters (for /api/stats)."""
        out: dict[str, Any] = {
            "ingest": dict(self.ingest.counts),
            "queue": {"depth": len(self.queue), "dropped": self.queue.dropped},
            "devices": len(self.registry),
        }
        if self.mqtt is not None:
            out["mqtt"] = self.mqtt.stats() | {"connected": int(self.mqtt.is_connected)}
        if self.downlink is not None:
            out["downlink"] = dict(self.downlink.counts)
        if self.downlink_signer is not None:
            out["downlink_signer"] = self.downlink_signer.stats()
        if self.ingest.tenant_limits is not None:
            out["tenants_refused"] = dict(self.ingest.tenant_limits.refused)
        if self.access is not None:
            out["broker_access"] = dict(self.access.counts) | {
                "last_apply_ms": round(self.access.last_apply_ms, 1)
            }
        if self.udp_gateway is not None:
            out["udp"] = self.udp_gateway.stats()
        if self.publisher is not None and self.forwarder is not None:
            out["backbone"] = self.publisher.stats() | {
                f"forward_{k}": v for k, v in self.forwarder.counts.items()
            }
        if self.warnings_feed is not None:
            out["warnings"] = self.warnings_feed.stats() | {
                "to_downlink": self.counts["warnings_to_downlink"],
                "rsi_to_downlink": self.counts["rsi_to_downlink"],
                "without_downlink": self.counts["warnings_without_downlink"],
            }
        if self.flags_feed is not None and self.flags is not None:
            out["flags"] = self.flags_feed.stats() | dict(self.flags.counts)
            out["flags"]["flagged_now"] = len(self.flags)
        if self.centre is not None and self.remote is not None:
            out["centre"] = {"consumers": self.centre.stats(), "inbox": self.remote.stats()}
            if self.corridor is not None:
                out["centre"]["corridor"] = self.corridor.stats()
            if self.ev_backbone is not None:
                out["centre"]["ev"] = self.ev_backbone.stats()
            if self.roster is not None:
                out["centre"]["workers"] = self.roster.view()
            if self.live_map is not None and self.live_intake is not None:
                out["centre"]["live"] = self.live_map.stats() | dict(self.live_intake.counts)
            if self.centre_rsi is not None and self.publisher is not None:
                out["centre"]["rsi"] = dict(self.centre_rsi.counts) | {
                    f"publish_{k}": v for k, v in self.publisher.stats().items()
                }
        if self.gb_server is not None:
            out["gb32960"] = dict(self.gb_server.stats)
            if self.publisher is not None:
                out["gb32960"]["published"] = self.counts["ev_published"]
                out["gb32960"]["publish_refused"] = self.counts["ev_refused"]
        return out

    def tenant_of(self, device_id: str) -> str | None:
        """The tenant of a registered device, or None."""
        found = self.registry.get(device_id)
        return None if found is None else found.tenant

    def device_ids(self, tenant: str) -> list[str]:
        """The ids of every device of ``tenant``."""
        return [d.device_id for d in self.registry.all() if d.tenant == tenant]


def _host_port(text: str, option: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{option} {text!r}: write HOST:PORT, e.g. 0.0.0.0:32960")
    return host.strip("[]"), int(port)
