#!/usr/bin/env python3
"""Independent reader for the Iceberg sink's tests: reads a table with pyiceberg (not iceberg-go) through
the same catalog and prints one JSON document on stdout:

  {"rows": [...], "types": {"col": "arrow type"}, "partitions": [...], "snapshots": [{"summary": {...}}]}

Rows are sorted by the column given with --sort; values are rendered as JSON (timestamps in ISO 8601,
dates as YYYY-MM-DD, decimals as strings). Usage:

  read_table.py --catalog sql --uri sqlite:////path/cat.db --warehouse file:///path/wh --table ns.t [--sort id]
  read_table.py --catalog rest --uri http://127.0.0.1:8181 --s3-endpoint http://127.0.0.1:9000 ... --table ns.t
"""
import argparse
import datetime
import decimal
import json
import sys
import uuid

from catalog_args import add_catalog_args, open_catalog


def render(v):
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: render(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [render(x) for x in v]
    return v


def main():
    ap = argparse.ArgumentParser()
    add_catalog_args(ap)
    ap.add_argument("--table", required=True)
    ap.add_argument("--sort", default="")
    ap.add_argument("--count-only", action="store_true")
    a = ap.parse_args()

    cat = open_catalog(a)
    tbl = cat.load_table(a.table)
    arrow = tbl.scan().to_arrow()
    out = {"count": arrow.num_rows,
           "types": {f.name: str(f.type) for f in arrow.schema},
           "snapshots": [{"id": s.snapshot_id, "summary": dict(s.summary.additional_properties) if s.summary else {}}
                         for s in tbl.snapshots()]}
    if not a.count_only:
        rows = arrow.to_pylist()
        if a.sort:
            rows.sort(key=lambda r: r[a.sort])
        out["rows"] = [render(r) for r in rows]
        parts = tbl.inspect.partitions().to_pylist() if tbl.current_snapshot() else []
        out["partitions"] = [render(p.get("partition")) for p in parts]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
