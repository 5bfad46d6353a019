"""Independent reader of the MongoDB sink's tests: reads a collection with pymongo (the official
Python driver, which shares no code with the Go driver the sink uses) and prints JSON on stdout.

    python reader.py URI DATABASE COLLECTION stats
        {"count": N, "distinct_ids": N, "groups": {"stream/topic/partition": {"n", "min", "max", "contiguous"}}}
    python reader.py URI DATABASE COLLECTION dump [FILTER_JSON]
        every document (sorted by _id) in canonical extended JSON, so BSON types survive:
        {"$numberLong": "7"} is Int64, {"$numberInt": "3"} Int32, {"$binary": ...} Binary, ...
    python reader.py URI DATABASE COLLECTION count FILTER_JSON
        {"count": N} for a query filter (e.g. {"payload.user.age": {"$gt": 50}})
    python reader.py URI DATABASE - collections
        {"collections": [...]}
"""
import json
import sys

import pymongo
from bson import json_util
from bson.codec_options import CodecOptions


def main():
    uri, dbname, collname, cmd = sys.argv[1:5]
    args = sys.argv[5:]
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    db = client[dbname]
    if cmd == "collections":
        print(json.dumps({"collections": sorted(db.list_collection_names())}))
        return
    coll = db.get_collection(collname, codec_options=CodecOptions(tz_aware=True))
    if cmd == "stats":
        # one pass over the collection (FerretDB answers count and distinct no faster than a scan)
        ids, groups = set(), {}
        count = 0
        for d in coll.find({}, {"iggy_stream": 1, "iggy_topic": 1, "iggy_partition_id": 1, "iggy_offset": 1}):
            count += 1
            ids.add(d["_id"])
            if "iggy_offset" not in d:
                continue
            key = "%s/%s/%s" % (d["iggy_stream"], d["iggy_topic"], d["iggy_partition_id"])
            groups.setdefault(key, []).append(d["iggy_offset"])
        out = {}
        for key, offs in groups.items():
            offs.sort()
            out[key] = {"n": len(offs), "min": offs[0], "max": offs[-1],
                        "contiguous": offs == list(range(offs[0], offs[0] + len(offs)))}
        print(json.dumps({"count": count, "distinct_ids": len(ids), "groups": out}))
    elif cmd == "dump":
        flt = json_util.loads(args[0]) if args else {}
        docs = list(coll.find(flt).sort("_id", 1))
        print(json_util.dumps(docs, json_options=json_util.CANONICAL_JSON_OPTIONS))
    elif cmd == "count":
        print(json.dumps({"count": coll.count_documents(json_util.loads(args[0]))}))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
