"""VPM (T/CSAE 157-2020 vehicle payment) ⇄ ``model.day2.Vpm``: the steps of a near-field toll
transaction, both directions.

RST (``initialzation-request``): the point's id, one free-flow ``paymentList`` entry with the
gantry (``tollingNodeInfo``) and its price (``tollInfo.price``, 0.01 CNY). VSI
(``initialzation-response``): the OBU's id and the point it answers. Action-Request:
``setTollDataRq`` carries the debit in ``transPara`` (amount and serial number as 4-byte
big-endian integers, the transaction time as 7 BCD bytes YYYYMMDDhhmmss UTC, the terminal as
the point id's last 6 bytes, the station as the gantry's low 3 bytes) and the gantry in
``tollingPos``; ``setMMIRq`` the result shown to the driver. Action-Response: ``ret`` and, for
a debit, an empty ``setTollDataRs``. Other TransInfo kinds (file reads, channels) decode to
their name and are refused on encoding. Times are ``DDateTime`` (UTC ms in the model).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from v2xcloud.codec.coordination import _ddatetime, _utc_ms
from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import DAY2_TYPE_NAMES, MessageSet
from v2xcloud.errors import EncodeError
from v2xcloud.model.day2 import Vpm

__all__ = ["encode_vpm", "vpm_from_wire", "vpm_to_wire"]

_MSG = "VPM"
_RST, _VSI = "initialzation-request", "initialzation-response"
_REQUEST, _RESPONSE = "action-request", "action-response"
_DEBIT_TYPE = b"\x09"  # transPara.transType of the debits we send


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def vpm_from_wire(value: dict[str, Any], *, reference_ms: int) -> Vpm:
    """VehiclePaymentMessage → ``Vpm``."""
    step, body = value["payment"]
    fields: dict[str, Any] = {"msg_count": value["msgCnt"], "step": step}
    if step in (_RST, _VSI, _REQUEST, _RESPONSE):
        fields["time_ms"] = _utc_ms(body["time"], reference_ms)
    if step == _RST:
        fields.update(rsu_id=body["id"].hex(), **_payment_list(body["paymentList"]))
    elif step == _VSI:
        fields.update(obu_id=body["obuId"].hex(), rsu_id=_hex(body.get("targetId")))
    elif step == _REQUEST:
        fields.update(
            rsu_id=body["sourceId"].hex(), obu_id=_hex(body.get("targetId")),
            entity=body["paymentEntityId"], needs_confirm=body["mode"],
            **_action(body["actionParameter"]),
        )  # fmt: skip
    elif step == _RESPONSE:
        kind = body.get("responseParameter")
        fields.update(
            obu_id=body["sourceId"].hex(), rsu_id=_hex(body.get("targetId")),
            entity=body["paymentEntityId"], result=body["ret"],
            action=None if kind is None else kind[0],
        )  # fmt: skip
    return Vpm(**fields)


def _payment_list(entries: list[dict[str, Any]]) -> dict[str, Any]:
    first = entries[0]
    out: dict[str, Any] = {"entity": first["pid"]}
    kind, info = first["paymentInfo"]
    if kind == "paymentInfoType1":
        out["gantry_id"] = (info.get("tollingNodeInfo") or {}).get("id")
        out["price_fen"] = (info.get("tollInfo") or {}).get("price")
    return out


def _action(param: tuple[str, Any]) -> dict[str, Any]:
    kind, body = param
    out: dict[str, Any] = {"action": kind}
    if kind == "setTollDataRq":
        trans = body.get("transPara")
        if trans is not None:
            out["amount_fen"] = int.from_bytes(trans["transAmount"], "big")
            out["transaction_sn"] = int.from_bytes(trans["transSN"], "big")
            out["gantry_id"] = int.from_bytes(trans["transStationID"], "big")
        pos = body.get("tollingPos")
        if pos is not None:
            out["gantry_id"] = pos["id"]
    elif kind == "setMMIRq":
        out["result"] = body["toll"]
    return out


def _id(value: str | None, name: str, where: str) -> bytes:
    try:
        raw = bytes.fromhex(value or "")
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise EncodeError(_MSG, f"{name} must be 16 hex digits, got {value!r}", where=where)
    return raw


def _bcd_time(utc_ms: int) -> bytes:
    digits = dt.datetime.fromtimestamp(utc_ms // 1000, tz=dt.UTC).strftime("%Y%m%d%H%M%S")
    return bytes.fromhex(digits)


def vpm_to_wire(msg: Vpm) -> dict[str, Any]:
    """``Vpm`` → VehiclePaymentMessage native value; raises ``EncodeError`` naming the field
    (a missing id, time, amount or serial number, a step or action we do not send)."""
    if msg.time_ms is None:
        raise EncodeError(_MSG, "time_ms is required", where="$.payment.time")
    when = _ddatetime(msg.time_ms)
    body: dict[str, Any]
    if msg.step == _RST:
        info: dict[str, Any] = {}
        if msg.gantry_id is not None:
            info["tollingNodeInfo"] = {"id": msg.gantry_id, "tollingNodeType": "gantry"}
        if msg.price_fen is not None:
            info["tollInfo"] = {"price": msg.price_fen}
        entry = {"pid": msg.entity, "paymentInfo": ("paymentInfoType1", info)}
        body = {
            "time": when,
            "id": _id(msg.rsu_id, "rsu_id", "$.payment.id"),
            "paymentList": [entry],
        }
    elif msg.step == _VSI:
        body = {"time": when, "obuId": _id(msg.obu_id, "obu_id", "$.payment.obuId")}
        if msg.rsu_id is not None:
            body["targetId"] = _id(msg.rsu_id, "rsu_id", "$.payment.targetId")
    elif msg.step == _REQUEST:
        body = {
            "time": when,
            "mode": msg.needs_confirm,
            "sourceId": _id(msg.rsu_id, "rsu_id", "$.payment.sourceId"),
            "paymentEntityId": msg.entity,
            "actionParameter": _action_to_wire(msg),
        }
        if msg.obu_id is not None:
            body["targetId"] = _id(msg.obu_id, "obu_id", "$.payment.targetId")
    elif msg.step == _RESPONSE:
        body = {
            "time": when,
            "sourceId": _id(msg.obu_id, "obu_id", "$.payment.sourceId"),
            "paymentEntityId": msg.entity,
            "ret": msg.result or "noError",
        }
        if msg.rsu_id is not None:
            body["targetId"] = _id(msg.rsu_id, "rsu_id", "$.payment.targetId")
        if msg.action == "setTollDataRs":
            body["responseParameter"] = ("setTollDataRs", {})
        elif msg.action is not None:
            raise EncodeError(_MSG, f"response {msg.action!r} is not modelled",
                              where="$.payment.responseParameter")  # fmt: skip
    else:
        raise EncodeError(_MSG, f"unknown step {msg.step!r}", where="$.payment")
    return {"msgCnt": msg.msg_count % 128, "payment": (msg.step, body)}


def _action_to_wire(msg: Vpm) -> tuple[str, dict[str, Any]]:
    where = "$.payment.actionParameter"
    if msg.action == "setMMIRq":
        return ("setMMIRq", {"toll": msg.result or "ok"})
    if msg.action != "setTollDataRq":
        raise EncodeError(_MSG, f"action {msg.action!r} is not modelled", where=where)
    if msg.amount_fen is None or msg.transaction_sn is None or msg.gantry_id is None:
        raise EncodeError(_MSG, "a debit needs amount_fen, transaction_sn and gantry_id",
                          where=where + ".transPara")  # fmt: skip
    if not 0 <= msg.amount_fen < 2**32 or not 0 <= msg.transaction_sn < 2**32:
        raise EncodeError(_MSG, "amount_fen and transaction_sn are 4-byte values",
                          where=where + ".transPara")  # fmt: skip
    assert msg.time_ms is not None
    trans = {
        "transAmount": msg.amount_fen.to_bytes(4, "big"),
        "transType": _DEBIT_TYPE,
        "terminalID": _id(msg.rsu_id, "rsu_id", "$.payment.sourceId")[2:],
        "transSN": msg.transaction_sn.to_bytes(4, "big"),
        "transTime": _bcd_time(msg.time_ms),
        "transStationID": (msg.gantry_id & 0xFFFFFF).to_bytes(3, "big"),
    }
    return ("setTollDataRq", {"transPara": trans, "tollingPos": {"id": msg.gantry_id}})


def encode_vpm(msg: Vpm, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Vpm`` → UPER MessageFrame (msgFrameExt, messageId 17); raises ``EncodeError``."""
    value = ("msgFrameExt", {"messageId": DAY2_TYPE_NAMES[_MSG], "value": vpm_to_wire(msg)})
    return encode_native(value, message_set=message_set)
