#!/usr/bin/env python3
"""Creates the end-to-end tests' table with pyiceberg: id long (required), name string, ts timestamptz
(required), optionally partitioned by day(ts). Same catalog arguments as read_table.py:

  create_table.py --catalog sql --uri sqlite:////path/cat.db --warehouse file:///path/wh --table ns.t [--by-day]
"""
import argparse

from pyiceberg.catalog import load_catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalog", required=True, choices=["sql", "rest"])
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", default="")
    ap.add_argument("--s3-endpoint", default="")
    ap.add_argument("--s3-access-key", default="")
    ap.add_argument("--s3-secret-key", default="")
    ap.add_argument("--table", required=True, action="append")
    ap.add_argument("--by-day", action="store_true")
    a = ap.parse_args()
    props = {"type": a.catalog, "uri": a.uri}
    if a.warehouse:
        props["warehouse"] = a.warehouse
    if a.s3_endpoint:
        props.update({"s3.endpoint": a.s3_endpoint, "s3.access-key-id": a.s3_access_key,
                      "s3.secret-access-key": a.s3_secret_key, "s3.region": "us-east-1"})
    cat = load_catalog("default", **props)
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "name", StringType(), required=False),
        NestedField(3, "ts", TimestamptzType(), required=True),
    )
    spec = PartitionSpec(PartitionField(source_id=3, field_id=1000, transform=DayTransform(), name="ts_day")) if a.by_day else PartitionSpec()
    for t in a.table:
        ns = t.rsplit(".", 1)[0]
        cat.create_namespace_if_not_exists(ns)
        cat.create_table(t, schema=schema, partition_spec=spec)


if __name__ == "__main__":
    main()
