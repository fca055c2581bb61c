#!/usr/bin/python3
"""Golden vectors of the ml4t wire format (see schemas/README.md).

Writes <name>.msgpack (the message bytes) and <name>.json (the decoded content
in normalized form, or {"error": {"code": ..., "field": ...}} for a message a
decoder must refuse) into this directory. Run with Debian's interpreter:

    /usr/bin/python3 schemas/vectors/generate.py

The module also holds the reference helpers the Python interop test uses:
normalize() turns a message decoded by python3-msgpack into the normalized
form, and the bar encoders show how a client writes each bar encoding.
"""
import gzip
import json
import math
import os
import struct
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "examples", "data", "FILUSDT-1m-2023-11.csv.gz")

BAR_COLUMNS = ["ts", "open", "high", "low", "close", "volume", "buy_volume"]
TOXICITY_LEVELS = ["UNKNOWN", "LOW", "MEDIUM", "HIGH"]


# --------------------------------------------------------------------------
# Bar encodings, as a client writes them


def bars_plain(rows):
    """rows: [(ts, open, high, low, close, volume[, buy_volume]), ...]"""
    return [list(r) for r in rows]


def bars_columnar(rows, with_buy=True):
    """Columns as little-endian bin; a NumPy client writes arr.astype('<f8').tobytes()."""
    cols = {"ts": struct.pack("<%dQ" % len(rows), *[r[0] for r in rows])}
    names = BAR_COLUMNS[1:7] if with_buy else BAR_COLUMNS[1:6]
    for k, name in enumerate(names, start=1):
        vals = [(r[k] if len(r) > k and r[k] is not None else math.nan) for r in rows]
        cols[name] = struct.pack("<%dd" % len(rows), *vals)
    return cols


# --------------------------------------------------------------------------
# Normalized form: what a decoder yields, with defaults filled in


def _f(x):
    """A float field: NaN (unknown) becomes null, ints become floats."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _bars(b):
    out = {c: [] for c in BAR_COLUMNS}
    if isinstance(b, dict):
        n = len(b["ts"]) // 8
        out["ts"] = list(struct.unpack("<%dQ" % n, b["ts"]))
        for c in BAR_COLUMNS[1:]:
            if c in b:
                out[c] = [_f(x) for x in struct.unpack("<%dd" % n, b[c])]
            else:
                out[c] = [None] * n
        return out
    for row in b:
        out["ts"].append(row[0])
        for k, c in enumerate(BAR_COLUMNS[1:], start=1):
            out[c].append(_f(row[k]) if len(row) > k else None)
    return out


def normalize(m):
    """Normalized content of a decoded message (a dict from msgpack.unpackb)."""
    t = m["type"]
    if t == "SignalEvent":
        return {"type": t, "v": m["v"], "instrument_id": m["instrument_id"],
                "strategy_id": m.get("strategy_id", ""), "signal_id": m.get("signal_id", ""),
                "signal": m["signal"], "ts_event": m["ts_event"], "bars": _bars(m["bars"])}
    if t == "EnrichedSignalEvent":
        f = m.get("size_factors", {})
        v = m.get("verdict")
        return {
            "type": t, "v": m["v"], "instrument_id": m["instrument_id"],
            "strategy_id": m.get("strategy_id", ""), "signal_id": m.get("signal_id", ""),
            "signal": m["signal"], "ts_event": m["ts_event"],
            "meta_confidence": _f(m["meta_confidence"]), "model_available": m["model_available"],
            "model_version": m.get("model_version", ""), "regime_weight": _f(m["regime_weight"]),
            "toxicity": _f(m["toxicity"]), "toxicity_level": m["toxicity_level"],
            "changepoint_prob": _f(m["changepoint_prob"]), "size": _f(m["size"]),
            "direction": m["direction"],
            "size_factors": {k: _f(f.get(k, 0.0)) for k in
                             ("raw", "signal", "meta", "regime", "toxicity", "kelly")}
            | {"capped": f.get("capped", False), "below_min": f.get("below_min", False)},
            "verdict": None if v is None else {
                "allowed": v["allowed"], "reason": v.get("reason", ""),
                "min_confidence": _f(v.get("min_confidence", 0.0)),
                "max_risk_pct": _f(v.get("max_risk_pct", 0.0))},
            "latency_ns": m["latency_ns"],
            "latency_decode_ns": m.get("latency_decode_ns", 0),
            "latency_features_ns": m.get("latency_features_ns", 0),
            "latency_predict_ns": m.get("latency_predict_ns", 0),
            "latency_encode_ns": m.get("latency_encode_ns", 0),
            "ts_enriched": m["ts_enriched"]}
    if t == "OutcomeEvent":
        return {"type": t, "v": m["v"], "instrument_id": m["instrument_id"],
                "signal_id": m.get("signal_id", ""), "ts_event": m.get("ts_event", 0),
                "label": m.get("label"), "realized_return": _f(m.get("realized_return")),
                "ts_outcome": m.get("ts_outcome", 0)}
    if t == "ErrorEvent":
        return {"type": t, "v": m["v"], "reason": m["reason"], "message": m["message"],
                "instrument_id": m.get("instrument_id", ""), "key": m.get("key", ""),
                "ts_event": m["ts_event"]}
    if t == "RiskStateEvent":
        return {"type": t, "v": m["v"],
                **{k: _f(m[k]) for k in ("daily_pnl_pct", "drawdown_pct")},
                "losing_streak": m["losing_streak"], "open_positions": m["open_positions"],
                "total_exposure_pct": _f(m["total_exposure_pct"]), "ts_event": m["ts_event"]}
    raise ValueError("unknown type %r" % t)


# --------------------------------------------------------------------------
# Raw msgpack pieces for messages no dict can express (duplicate keys,
# forged headers, reserved bytes)


def pk(obj, **kw):
    return msgpack.packb(obj, use_bin_type=True, **kw)


def raw_map(pairs):
    """A map from (key, already-packed value bytes) pairs, in order, duplicates kept."""
    n = len(pairs)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
    return head + b"".join(pk(k) + v for k, v in pairs)


def real_rows(n):
    rows = []
    with gzip.open(DATA, "rt") as f:
        next(f)
        for line in f:
            c = line.split(",")
            rows.append((int(c[0]) * 1000000, float(c[1]), float(c[2]), float(c[3]),
                         float(c[4]), float(c[5]), float(c[9])))
            if len(rows) == n:
                break
    return rows


T0 = 1700000000000000000
SMALL = [(T0 + 60000000000 * i, 10.0 + i, 10.5 + i, 9.5 + i, 10.25 + i, 100.0 * (i + 1), 40.0)
         for i in range(5)]
SIX = [r[:6] for r in SMALL]


def signal(bars, **over):
    m = {"type": "SignalEvent", "v": 1, "instrument_id": "FILUSDT", "signal": 1,
         "ts_event": T0 + 300000000000, "bars": bars}
    m.update(over)
    return m


def without(m, key):
    return {k: v for k, v in m.items() if k != key}


def enriched(**over):
    m = {"type": "EnrichedSignalEvent", "v": 1, "instrument_id": "FILUSDT",
         "strategy_id": "sma_cross", "signal_id": "sig-0001", "signal": 1,
         "ts_event": T0 + 300000000000, "meta_confidence": 0.6875, "model_available": True,
         "model_version": "20231101T000000-a1b2c3", "regime_weight": 0.8, "toxicity": 0.3125,
         "toxicity_level": "MEDIUM", "changepoint_prob": 0.015625, "size": 0.42,
         "direction": 1,
         "size_factors": {"raw": 0.42, "signal": 1.0, "meta": 0.6875, "regime": 0.8,
                          "toxicity": 0.6875, "kelly": 0.25, "capped": False,
                          "below_min": False},
         "verdict": {"allowed": True, "reason": "within limits", "min_confidence": 0.55,
                     "max_risk_pct": 2.0},
         "latency_ns": 48000, "latency_decode_ns": 900, "latency_features_ns": 12000,
         "latency_predict_ns": 30000, "latency_encode_ns": 400,
         "ts_enriched": T0 + 300000048000}
    m.update(over)
    return m


def outcome(**over):
    m = {"type": "OutcomeEvent", "v": 1, "instrument_id": "FILUSDT", "signal_id": "sig-0001",
         "label": 1, "ts_outcome": T0 + 900000000000}
    m.update(over)
    return m


def risk(**over):
    m = {"type": "RiskStateEvent", "v": 1, "daily_pnl_pct": -1.25, "drawdown_pct": 3.5,
         "losing_streak": 2, "open_positions": 3, "total_exposure_pct": 45.0,
         "ts_event": T0 + 600000000000}
    m.update(over)
    return m


def error_event(**over):
    m = {"type": "ErrorEvent", "v": 1, "reason": "limit_exceeded",
         "message": "bars: 20000 bars, at most 10000 allowed", "instrument_id": "FILUSDT",
         "key": "bars", "ts_event": T0 + 300000001000}
    m.update(over)
    return m


def valid_vectors():
    real = real_rows(100)
    v = {}
    v["signal_plain_real"] = signal(bars_plain(real), strategy_id="sma_cross",
                                    signal_id="sig-0001")
    v["signal_columnar_real"] = signal(bars_columnar(real), strategy_id="sma_cross",
                                       signal_id="sig-0001")
    v["signal_plain_minimal"] = signal(bars_plain(SIX[:3]), signal=-1)
    v["signal_columnar_no_buy_volume"] = signal(bars_columnar(SIX[:3], with_buy=False), signal=0)
    mixed = [list(SIX[0]) + [None], [SIX[1][0], 11, 12, 10, 11, 200], list(SIX[2]) + [150.5]]
    v["signal_plain_int_prices_nil_buy"] = signal(mixed)
    v["signal_unknown_keys"] = signal(bars_plain(SIX[:2]), x_future={"a": [1, 2, {"b": None}]},
                                      comment="ignored", x_bin=b"\x00\xc1")
    cols = bars_columnar(SIX[:2], with_buy=False)
    cols["vwap"] = struct.pack("<2d", 10.1, 11.1)
    v["signal_columnar_extra_column"] = signal(cols)
    m = signal(bars_plain(SIX[:2]), signal_id="k")
    v["signal_key_order"] = {k: m[k] for k in reversed(list(m))}
    top = 2**64 - 1
    v["signal_u64_max"] = signal([[top - 1, 1.5, 2.0, 1.0, 1.5, 0.0], [top, 1.5, 2.0, 1.0, 1.5, 0.0]],
                                 ts_event=top)
    v["signal_empty_bars"] = signal([])
    v["enriched_full"] = enriched()
    v["enriched_minimal"] = {k: x for k, x in enriched(toxicity=None, toxicity_level="UNKNOWN").items()
                             if k not in ("strategy_id", "signal_id", "size_factors", "verdict",
                                          "model_version", "latency_decode_ns",
                                          "latency_features_ns", "latency_predict_ns",
                                          "latency_encode_ns")}
    v["enriched_int_numbers"] = enriched(meta_confidence=1, regime_weight=0, size=0, direction=0)
    v["outcome_by_signal_id"] = outcome()
    v["outcome_by_ts_event"] = without(outcome(ts_event=T0 + 300000000000, realized_return=-0.0125,
                                               label=-1), "signal_id")
    v["outcome_return_only"] = without(outcome(realized_return=0.031), "label")
    v["error_event"] = error_event()
    v["error_event_unknown_reason"] = without(without(error_event(reason="some_future_reason"),
                                                      "key"), "instrument_id")
    v["risk_state"] = risk()
    v["risk_state_int_numbers"] = risk(daily_pnl_pct=0, drawdown_pct=0, total_exposure_pct=100)
    return {k: (pk(m), normalize(m)) for k, m in v.items()}


def special_valid_vectors():
    """Valid messages written with other msgpack encodings than python's defaults."""
    out = {}
    m = signal(bars_plain(SIX[:2]))
    b32 = msgpack.packb(m, use_single_float=True)  # 10.5, 9.5 ... are exact in float32
    out["signal_float32_prices"] = (b32, normalize(m))
    # every integer as int64 (0xd3), as some libraries always write signed 64-bit
    i64 = lambda x: b"\xd3" + struct.pack(">q", x)
    f64 = lambda x: b"\xcb" + struct.pack(">d", x)
    row = lambda r: b"\x96" + i64(r[0]) + b"".join(f64(x) for x in r[1:6])
    bars = b"\x92" + row(SIX[0]) + row(SIX[1])
    raw = raw_map([("type", pk("SignalEvent")), ("v", i64(1)), ("instrument_id", pk("FILUSDT")),
                   ("signal", i64(-1)), ("ts_event", i64(T0)), ("bars", bars)])
    out["signal_int64_encoding"] = (raw, normalize(signal(bars_plain(SIX[:2]), signal=-1,
                                                          ts_event=T0)))
    return out


def err(code, field):
    return {"error": {"code": code, "field": field}}


def invalid_vectors():
    v = {}
    s2 = bars_plain(SIX[:3])
    base = signal(s2)
    v["signal_missing_instrument_id"] = (pk(without(base, "instrument_id")),
                                         err("missing_field", "instrument_id"))
    v["signal_missing_bars"] = (pk(without(base, "bars")), err("missing_field", "bars"))
    v["signal_missing_type"] = (pk(without(base, "type")), err("missing_field", "type"))
    v["signal_missing_v"] = (pk(without(base, "v")), err("missing_field", "v"))
    v["signal_ts_event_float"] = (pk(signal(s2, ts_event=1.7e18)), err("wrong_type", "ts_event"))
    v["signal_ts_event_negative"] = (pk(signal(s2, ts_event=-5)), err("out_of_range", "ts_event"))
    v["signal_signal_out_of_range"] = (pk(signal(s2, signal=2)), err("out_of_range", "signal"))
    v["signal_signal_float"] = (pk(signal(s2, signal=1.0)), err("wrong_type", "signal"))
    v["signal_signal_bool"] = (pk(signal(s2, signal=True)), err("wrong_type", "signal"))
    v["signal_instrument_not_string"] = (pk(signal(s2, instrument_id=42)),
                                         err("wrong_type", "instrument_id"))
    v["signal_instrument_too_long"] = (pk(signal(s2, instrument_id="X" * 65)),
                                       err("limit_exceeded", "instrument_id"))
    v["signal_instrument_empty"] = (pk(signal(s2, instrument_id="")),
                                    err("missing_field", "instrument_id"))
    # a 4 GB string announced by its header, with nothing behind it
    v["signal_instrument_forged_length"] = (
        raw_map([("type", pk("SignalEvent")), ("v", pk(1)), ("signal", pk(1)),
                 ("instrument_id", b"\xdb\xff\xff\xff\xf0")]),
        err("limit_exceeded", "instrument_id"))
    bad = [list(r) for r in SIX]
    bad[3][0] = float(bad[3][0])
    v["signal_bar_ts_float"] = (pk(signal(bad)), err("wrong_type", "bars[3][0]"))
    bad = [list(r) for r in SIX]
    bad[3][4] = "10.25"
    v["signal_bar_price_string"] = (pk(signal(bad)), err("wrong_type", "bars[3][4]"))
    bad = [list(r) for r in SIX]
    bad[2] = bad[2][:5]
    v["signal_bar_short"] = (pk(signal(bad)), err("malformed", "bars[2]"))
    bad = [list(r) for r in SIX]
    bad[1] = {"ts": bad[1][0]}
    v["signal_bar_not_array"] = (pk(signal(bad)), err("wrong_type", "bars[1]"))
    bad = [list(r) for r in SIX]
    bad[4][4] = math.nan
    v["signal_bar_nan_close"] = (pk(signal(bad)), err("out_of_range", "bars[4].close"))
    bad = [list(r) for r in SIX]
    bad[1][3] = bad[1][2] + 1.0
    v["signal_bar_low_above_high"] = (pk(signal(bad)), err("out_of_range", "bars[1].low"))
    bad = [list(r) for r in SIX]
    bad[2][0] = bad[1][0]
    v["signal_bar_ts_not_increasing"] = (pk(signal(bad)), err("out_of_range", "bars[2].ts"))
    # 10001 bars announced (default max_bars is 10000), 2 bytes behind the header
    v["signal_bars_too_many"] = (
        raw_map([("type", pk("SignalEvent")), ("v", pk(1)), ("instrument_id", pk("FILUSDT")),
                 ("signal", pk(1)), ("ts_event", pk(T0)),
                 ("bars", b"\xdd" + struct.pack(">I", 10001) + b"\x96\x00")]),
        err("limit_exceeded", "bars"))
    v["signal_bars_wrong_type"] = (pk(signal("bars")), err("wrong_type", "bars"))
    cols = bars_columnar(SIX[:3])
    cols["low"] = cols["low"][:16]
    v["signal_columnar_length_mismatch"] = (pk(signal(cols)), err("malformed", "bars.low"))
    cols = bars_columnar(SIX[:3])
    cols["high"] = cols["high"][:20]
    v["signal_columnar_partial_value"] = (pk(signal(cols)), err("malformed", "bars.high"))
    cols = bars_columnar(SIX[:3])
    del cols["volume"]
    v["signal_columnar_missing_volume"] = (pk(signal(cols)), err("missing_field", "bars.volume"))
    cols = bars_columnar(SIX[:3])
    cols["close"] = [10.25, 11.25, 12.25]
    v["signal_columnar_not_bin"] = (pk(signal(cols)), err("wrong_type", "bars.close"))
    nan_rows = [list(r) for r in SIX[:3]]
    nan_rows[0][2] = math.nan
    v["signal_columnar_nan_high"] = (pk(signal(bars_columnar(nan_rows))),
                                     err("out_of_range", "bars[0].high"))
    v["signal_unknown_type"] = (pk(signal(s2, type="SignalEvent2")), err("unsupported", "type"))
    # a future version may change any field: the version is what gets reported
    v2 = signal("bars as a string in v2")
    v2 = {"bars": v2["bars"], **without(without(v2, "bars"), "v"), "v": 2}
    v["signal_version_2"] = (pk(v2), err("unsupported", "v"))
    v["signal_not_a_map"] = (pk([1, 2, 3]), err("malformed", ""))
    v["signal_empty_input"] = (b"", err("malformed", ""))
    whole = pk(signal(bars_plain(SIX)))
    v["signal_truncated"] = (whole[:-3], err("malformed", "bars[4][5]"))
    v["signal_trailing_bytes"] = (whole + b"\xc0", err("malformed", ""))
    dup = [(k, pk(x)) for k, x in base.items()] + [("signal", pk(-1))]
    v["signal_duplicate_key"] = (raw_map(dup), err("malformed", "signal"))
    deep = b"\x91" * 40 + b"\x00"
    v["signal_deep_nesting"] = (raw_map([(k, pk(x)) for k, x in base.items()] + [("x_deep", deep)]),
                                err("limit_exceeded", "x_deep"))
    v["signal_reserved_byte"] = (raw_map([(k, pk(x)) for k, x in base.items()] + [("x", b"\xc1")]),
                                 err("malformed", "x"))
    pairs = [pk(k) + pk(x) for k, x in base.items()] + [pk(7) + pk(1)]
    v["signal_nonstring_key"] = (bytes([0x80 | len(pairs)]) + b"".join(pairs),
                                 err("malformed", ""))
    v["enriched_model_available_int"] = (pk(enriched(model_available=1)),
                                         err("wrong_type", "model_available"))
    v["enriched_bad_toxicity_level"] = (pk(enriched(toxicity_level="EXTREME")),
                                        err("out_of_range", "toxicity_level"))
    v["enriched_verdict_missing_allowed"] = (
        pk(enriched(verdict={"reason": "x", "min_confidence": 0.5, "max_risk_pct": 1.0})),
        err("missing_field", "verdict.allowed"))
    f = enriched()["size_factors"] | {"kelly": "x"}
    v["enriched_factor_wrong_type"] = (pk(enriched(size_factors=f)),
                                       err("wrong_type", "size_factors.kelly"))
    v["outcome_no_signal_ref"] = (pk(without(outcome(), "signal_id")),
                                  err("missing_field", "signal_id"))
    v["outcome_no_result"] = (pk(without(outcome(), "label")), err("missing_field", "label"))
    v["outcome_label_out_of_range"] = (pk(outcome(label=3)), err("out_of_range", "label"))
    v["error_missing_reason"] = (pk(without(error_event(), "reason")),
                                 err("missing_field", "reason"))
    v["risk_state_missing_drawdown"] = (pk(without(risk(), "drawdown_pct")),
                                        err("missing_field", "drawdown_pct"))
    v["risk_state_negative_streak"] = (pk(risk(losing_streak=-1)),
                                       err("out_of_range", "losing_streak"))
    v["risk_state_negative_exposure"] = (pk(risk(total_exposure_pct=-0.5)),
                                         err("out_of_range", "total_exposure_pct"))
    return v


def all_vectors():
    v = valid_vectors()
    v.update(special_valid_vectors())
    v.update(invalid_vectors())
    return v


def main():
    vectors = all_vectors()
    for name in os.listdir(HERE):
        if name.endswith((".msgpack", ".json")):
            os.remove(os.path.join(HERE, name))
    for name, (data, expect) in sorted(vectors.items()):
        with open(os.path.join(HERE, name + ".msgpack"), "wb") as f:
            f.write(data)
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            json.dump(expect, f, indent=1, allow_nan=False)
            f.write("\n")
    bad = sum(1 for _, e in vectors.values() if "error" in e)
    print("wrote %d vectors (%d valid, %d invalid) to %s" % (len(vectors), len(vectors) - bad,
                                                             bad, HERE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
