"""Independent Avro reader/writer for the codec's interop test (Python fastavro, not our code).

    python avro_interop.py write SCHEMA.avsc   prints JSON lines {"avro_hex": ..., "json": ...}: records
                                               written by fastavro and their JSON form
    python avro_interop.py read SCHEMA.avsc    reads JSON lines {"avro_hex": ...} (datums written by the
                                               Go encoder) and prints {"json": ...} per line

The JSON form follows the codec's mapping: unions unwrapped, bytes and fixed as strings with one code
point per byte (latin-1), logical types as their underlying value (timestamp-millis as a long).
"""
import datetime
import io
import json
import sys

import fastavro

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_json(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("latin-1")
    if isinstance(v, datetime.datetime):
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def records():
    item = lambda sku, price, tags: {"sku": sku, "price": price, "tags": tags}
    yield {"id": 1, "qty": 2, "customer": "Ada", "paid": True, "total": 19.99, "discount": 0.25,
           "note": None, "status": "NEW", "items": [item("A-1", 9.5, ["x"]), item("B-2", 10.49, [])],
           "attrs": {"weight": 1200, "neg": -5}, "digest": b"\x00\x7f\x80\xff", "blob": b"",
           "created": 1700000000123, "gift": None, "nothing": None}
    yield {"id": -9223372036854775808, "qty": -2147483648, "customer": "Zoë ✓ \u2028 \"quoted\" \\ back",
           "paid": False, "total": -1e-300, "discount": -1.5, "note": "fragile\nhandle with care",
           "status": "SHIPPED", "items": [], "attrs": {}, "digest": b"abcd",
           "blob": bytes(range(256)), "created": 0,
           "gift": item("G", 0.0, ["wrapped", "red"]), "nothing": None}
    yield {"id": 9223372036854775807, "qty": 2147483647, "customer": "", "paid": True,
           "total": 1.7976931348623157e308, "discount": 65504.0, "note": "",
           "status": "PAID", "items": [item("Ü" * 300, 1e20, ["t%d" % i for i in range(50)])],
           "attrs": {"k%d" % i: i * 1000003 for i in range(40)}, "digest": b"\x01\x02\x03\x04",
           "blob": b"\x00", "created": 4102444800000, "gift": None, "nothing": None}


def main():
    mode, schema_path = sys.argv[1], sys.argv[2]
    with open(schema_path) as f:
        schema = fastavro.parse_schema(json.load(f))
    if mode == "write":
        for rec in records():
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, schema, rec)
            print(json.dumps({"avro_hex": buf.getvalue().hex(), "json": to_json(rec)}))
    elif mode == "read":
        for line in sys.stdin:
            if not line.strip():
                continue
            data = bytes.fromhex(json.loads(line)["avro_hex"])
            buf = io.BytesIO(data)
            rec = fastavro.schemaless_reader(buf, schema)
            if buf.tell() != len(data):
                raise SystemExit("trailing bytes after the datum: %d of %d read" % (buf.tell(), len(data)))
            print(json.dumps({"json": to_json(rec)}))
    else:
        raise SystemExit("usage: avro_interop.py write|read SCHEMA.avsc")


if __name__ == "__main__":
    main()
