"""Catalog command-line arguments shared by read_table.py and create_table.py."""
from pyiceberg.catalog import load_catalog


def add_catalog_args(ap):
    ap.add_argument("--catalog", required=True, choices=["sql", "rest"])
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", default="")
    ap.add_argument("--s3-endpoint", default="")
    ap.add_argument("--s3-access-key", default="")
    ap.add_argument("--s3-secret-key", default="")
    ap.add_argument("--s3-region", default="us-east-1")


def open_catalog(a):
    props = {"type": a.catalog, "uri": a.uri}
    if a.warehouse:
        props["warehouse"] = a.warehouse
    if a.s3_endpoint:
        props.update({"s3.endpoint": a.s3_endpoint, "s3.access-key-id": a.s3_access_key,
                      "s3.secret-access-key": a.s3_secret_key, "s3.region": a.s3_region,
                      "s3.path-style-access": "true"})
    return load_catalog("default", **props)
