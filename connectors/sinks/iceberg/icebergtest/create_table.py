#!/usr/bin/env python3
"""Creates the end-to-end tests' table with pyiceberg: id long (required), name string, ts timestamptz
(required), optionally partitioned by day(ts). Same catalog arguments as read_table.py:

  create_table.py --catalog sql --uri sqlite:////path/cat.db --warehouse file:///path/wh --table ns.t [--by-day]
"""
import argparse

from catalog_args import add_catalog_args, open_catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType


def main():
    ap = argparse.ArgumentParser()
    add_catalog_args(ap)
    ap.add_argument("--table", required=True, action="append")
    ap.add_argument("--by-day", action="store_true")
    ap.add_argument("--location", default="", help="table location (with a single --table)")
    a = ap.parse_args()
    cat = open_catalog(a)
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "name", StringType(), required=False),
        NestedField(3, "ts", TimestamptzType(), required=True),
    )
    spec = PartitionSpec(PartitionField(source_id=3, field_id=1000, transform=DayTransform(), name="ts_day")) if a.by_day else PartitionSpec()
    for t in a.table:
        ns = t.rsplit(".", 1)[0]
        cat.create_namespace_if_not_exists(ns)
        kw = {"location": a.location} if a.location else {}
        cat.create_table(t, schema=schema, partition_spec=spec, **kw)


if __name__ == "__main__":
    main()
