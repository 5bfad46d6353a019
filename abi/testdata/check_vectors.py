#!/usr/bin/env python3
"""Independent check of the ABI v1 golden vectors with Python's cbor2.

For every vector listed in vectors.json (written by `go test ./abi -run TestGolden -update`) this
script checks that:

  1. the .cbor file exists and its bytes equal the vector's "hex";
  2. cbor2 decodes the file completely (no trailing bytes) into exactly the vector's "value", the
     language-neutral generic form (integer map keys as decimal strings, byte strings as
     {"bytes": hex}, booleans stay booleans: true is not 1);
  3. re-encoding the decoded value with cbor2 in canonical mode gives the same bytes (so the Go
     encoder writes definite lengths, minimal integers and ascending keys);

and that no .cbor file in the directory is missing from vectors.json. It also reads
sink_batch_ref.bin, the ABI 1.1 IggySinkBatchRef image of the sink_batch vector (iggy_connector.h
§6: 64-bit little-endian, pointers as offsets from the start of the file, 0 = NULL), with struct, and
checks that it describes exactly the sink_batch vector's value. A shared bug between the Go
encoder and the Go decoder cannot hide from a reader that is not ours.

Usage: build/venv/bin/python abi/testdata/check_vectors.py [testdata-dir]
Exits 0 when everything matches, 1 with one line per mismatch otherwise.
"""

import io
import json
import os
import struct
import sys

try:
    import cbor2
except ImportError:  # pragma: no cover - environment problem, not a vector problem
    sys.exit("check_vectors: cbor2 is not installed; run scripts/setup.sh and use build/venv/bin/python")


def to_generic(value, path):
    """Converts a cbor2-decoded value to the generic form of vectors.json."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, int) or key < 0:
                raise ValueError(f"{path}: map key {key!r} is not an unsigned integer")
            out[str(key)] = to_generic(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [to_generic(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, bool) or isinstance(value, str) or value is None:
        return value
    if isinstance(value, int):
        return value
    raise ValueError(f"{path}: unexpected CBOR item {type(value).__name__} ({value!r})")


def first_difference(got, want, path="value"):
    """Returns a description of the first difference between two generic values, or None."""
    if type(got) is not type(want):
        return f"{path}: got {type(got).__name__} {got!r}, want {type(want).__name__} {want!r}"
    if isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            if key not in got:
                return f"{path}.{key}: missing (want {want[key]!r})"
            if key not in want:
                return f"{path}.{key}: unexpected key (got {got[key]!r})"
            diff = first_difference(got[key], want[key], f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(want, list):
        if len(got) != len(want):
            return f"{path}: got {len(got)} items, want {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            diff = first_difference(g, w, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if got != want:
        return f"{path}: got {got!r}, want {want!r}"
    return None


def decode_exactly(data):
    """Decodes one CBOR item and insists that it covers the whole buffer."""
    stream = io.BytesIO(data)
    value = cbor2.CBORDecoder(stream).decode()
    if stream.tell() != len(data):
        raise ValueError(f"{len(data) - stream.tell()} trailing bytes after the item")
    return value


def check(testdata):
    """Checks every vector; returns (number of vectors and stray files checked, failed names, problems)."""
    problems = []
    failed = set()
    index_path = os.path.join(testdata, "vectors.json")
    with open(index_path, encoding="utf-8") as f:
        vectors = json.load(f)
    listed = set()
    for vector in vectors:
        name, file = vector["name"], vector["file"]
        listed.add(file)
        where = f"{file} ({name})"
        before = len(problems)
        path = os.path.join(testdata, file)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            problems.append(f"{where}: cannot read: {e}")
            failed.add(file)
            continue
        if data.hex() != vector["hex"]:
            problems.append(f"{where}: file bytes {data.hex()} differ from vectors.json hex {vector['hex']}")
        try:
            decoded = decode_exactly(data)
            generic = to_generic(decoded, "value")
        except Exception as e:  # cbor2 raises several types; all mean the same thing here
            problems.append(f"{where}: cbor2 cannot decode it: {e}")
            failed.add(file)
            continue
        diff = first_difference(generic, vector["value"])
        if diff:
            problems.append(f"{where}: decoded value differs from vectors.json: {diff}")
        canonical = cbor2.dumps(decoded, canonical=True)
        if canonical != data:
            problems.append(f"{where}: not canonical CBOR: cbor2 re-encodes it as {canonical.hex()}, file is {data.hex()}")
        if len(problems) > before:
            failed.add(file)
    for file in sorted(os.listdir(testdata)):
        if file.endswith(".cbor") and file not in listed:
            problems.append(f"{file}: not listed in vectors.json")
            failed.add(file)
    return len(listed | failed), failed, problems


def ref_image_generic(img):
    """Reads an IggySinkBatchRef image into the generic form of the SinkBatch it describes."""
    size, partition_id, current_offset = struct.unpack_from("<IIQ", img, 0)
    if size != 88:
        raise ValueError(f"size {size}, want 88")

    def span(at, what):
        off, n = struct.unpack_from("<QQ", img, at)
        if n == 0:
            return b""
        if off == 0 or off + n > len(img):
            raise ValueError(f"{what}: offset {off} length {n} outside the image of {len(img)} bytes")
        return img[off:off + n]

    stream, topic, schema = (span(16 * i + 16, name).decode("utf-8") for i, name in enumerate(("stream", "topic", "schema")))
    messages_at, messages_len, message_size = struct.unpack_from("<QQQ", img, 64)
    if message_size != 80:
        raise ValueError(f"message_size {message_size}, want 80")
    messages = []
    for i in range(messages_len):
        at = messages_at + 80 * i
        offset, checksum, timestamp, origin = struct.unpack_from("<QQQQ", img, at + 16)
        m = {"1": {"bytes": img[at:at + 16].hex()}, "2": offset, "3": checksum, "4": timestamp, "5": origin,
             "7": {"bytes": span(at + 64, f"messages[{i}].payload").hex()}}
        headers = span(at + 48, f"messages[{i}].headers")
        if headers:
            m["6"] = to_generic(decode_exactly(headers), f"messages[{i}].headers")
        messages.append(m)
    return {"1": stream, "2": topic, "3": partition_id, "4": current_offset, "5": schema, "6": messages}


def check_ref_image(testdata, vectors):
    """Checks sink_batch_ref.bin against the sink_batch vector; returns a list of problems."""
    want = next((v["value"] for v in vectors if v["name"] == "sink_batch"), None)
    try:
        with open(os.path.join(testdata, "sink_batch_ref.bin"), "rb") as f:
            got = ref_image_generic(f.read())
    except Exception as e:
        return [f"sink_batch_ref.bin: cannot read the image: {e}"]
    diff = first_difference(got, want)
    return [f"sink_batch_ref.bin: differs from the sink_batch vector: {diff}"] if diff else []


def main(argv):
    testdata = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    count, failed, problems = check(testdata)
    with open(os.path.join(testdata, "vectors.json"), encoding="utf-8") as f:
        ref_problems = check_ref_image(testdata, json.load(f))
    problems += ref_problems
    count += 1
    if ref_problems:
        failed.add("sink_batch_ref.bin")
    for p in problems:
        print(f"check_vectors: {p}", file=sys.stderr)
    print(f"check_vectors: {count - len(failed)} passed, {len(failed)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
