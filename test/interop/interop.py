"""Wire-fidelity check of iggy-devserver with the official Python client (apache-iggy 0.9.0).

Usage: interop.py ADDR scenario STREAM
       interop.py ADDR produce STREAM TOPIC COUNT ORIGIN
       interop.py ADDR consume STREAM TOPIC COUNT ORIGIN
       interop.py ADDR group-member STREAM TOPIC GROUP SECONDS
       interop.py ADDR admin STREAM

Message convention shared with gointerop (message i, 1-based): id = i, payload "payload-%06d",
user headers seq=String(str(i)), n=UnsignedInt32(i), origin=String(ORIGIN). Exits non-zero on the
first mismatch, naming it. IGGY_TOKEN (a personal access token) and IGGY_TLS_CA (a CA file; TLS
with server name localhost) change how it connects.
"""
import asyncio
import datetime
import os
import struct
import sys
import time
import traceback

from apache_iggy import (AutoCommit, AutoLogin, Consumer, GlobalPermissions, HeaderKey, HeaderValue, IggyClient,
                         Permissions, PollingStrategy, SendMessage, StreamPermissions, TcpConfig, TcpReconnectionConfig)

BATCH = 100


def fail(msg):
    print(f"interop.py: FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def log(msg):
    print(f"interop.py: {msg}", flush=True)


def make_message(i, origin):
    headers = {
        HeaderKey.String("seq"): HeaderValue.String(str(i)),
        HeaderKey.String("n"): HeaderValue.UnsignedInt32(i),
        HeaderKey.String("origin"): HeaderValue.String(origin),
    }
    return SendMessage(f"payload-{i:06d}".encode(), user_headers=headers, id=i)


def check_message(m, i, origin, offset=None):
    if m.id() != i:
        fail(f"message {i}: id {m.id()}")
    if m.payload() != f"payload-{i:06d}".encode():
        fail(f"message {i}: payload {m.payload()!r}")
    if offset is not None and m.offset() != offset:
        fail(f"message {i}: offset {m.offset()}, want {offset}")
    h = m.user_headers()
    if h is None:
        fail(f"message {i}: no user headers")
    want = {
        HeaderKey.String("seq"): HeaderValue.String(str(i)),
        HeaderKey.String("n"): HeaderValue.UnsignedInt32(i),
        HeaderKey.String("origin"): HeaderValue.String(origin),
    }
    if dict(h) != want:
        fail(f"message {i}: headers {h!r}, want {want!r}")
    if m.timestamp() <= 0 or m.origin_timestamp() <= 0 or m.checksum() == 0:
        fail(f"message {i}: timestamp {m.timestamp()} origin {m.origin_timestamp()} checksum {m.checksum()}")


async def connect(addr, user=None, password=None):
    """Logs in as user/password, by default iggy/iggy (IGGY_USERNAME/IGGY_PASSWORD override), or with
    the personal access token in IGGY_TOKEN (auto-login);
    IGGY_TLS_CA (a CA file) switches to TLS with server name localhost."""
    token, ca = os.environ.get("IGGY_TOKEN"), os.environ.get("IGGY_TLS_CA")
    # A bounded reconnection policy: the default retries forever, which would hang a test run whose
    # server died.
    kw = {"server_address": addr,
          "reconnection": TcpReconnectionConfig(max_retries=5, interval=datetime.timedelta(seconds=1))}
    if ca:
        kw.update(tls_enabled=True, tls_ca_file=ca, tls_domain="localhost")
    if token:
        kw["auto_login"] = AutoLogin.personal_access_token(token)
    c = IggyClient(TcpConfig(**kw))
    await c.connect()
    if not token:
        await c.login_user(user or os.environ.get("IGGY_USERNAME", "iggy"),
                           password or os.environ.get("IGGY_PASSWORD", "iggy"))
    return c


async def ensure_topic(c, stream, topic, partitions):
    if await c.get_stream(stream) is None:
        await c.create_stream(stream)
    if await c.get_topic(stream, topic) is None:
        try:
            await c.create_topic(stream=stream, name=topic, partitions_count=partitions)
        except RuntimeError as e:
            if "Unsupported option key" not in str(e):
                raise
            await raw_create_topic(c, stream, topic, partitions)


def identifier(s):
    """A string identifier: kind 2, u8 length, bytes."""
    b = s.encode()
    return bytes([2, len(b)]) + b


async def raw_create_topic(c, stream, topic, partitions, options=None):
    """CreateTopic (302) through send_binary_request. The wheel's create_topic always sends the
    options durability and consumer_offset_durability, which Apache Iggy 0.9.0-edge.5 (and so
    iggy-devserver) refuses with 4041 UnsupportedOptionKey (docs/iggy-protocol-notes.md); this
    sends only the given options (string values)."""
    def name(s):
        b = s.encode()
        return bytes([len(b)]) + b

    def tlv(kind, b):
        return bytes([kind]) + struct.pack("<I", len(b)) + b
    body = identifier(stream) + struct.pack("<I", partitions) + name(topic)
    for k, v in (options or {}).items():
        body += tlv(2, k.encode()) + tlv(2, v.encode())
    await c.send_binary_request(302, body)


async def produce(c, stream, topic, count, origin, partition=0):
    for start in range(1, count + 1, BATCH):
        msgs = [make_message(i, origin) for i in range(start, min(start + BATCH, count + 1))]
        r = await c.send_messages(stream=stream, topic=topic, partitioning=partition, messages=msgs)
        if len(r.confirmations) != 1 or r.confirmations[0].partition_id != partition:
            fail(f"send confirmation {[(x.partition_id, x.base_offset) for x in r.confirmations]}")


async def consume(c, stream, topic, count, origin, partition=0):
    got = 0
    while got < count:
        msgs = await c.poll_messages(stream=stream, topic=topic, consumer=Consumer.Single(1), partition_id=partition,
                                     polling_strategy=PollingStrategy.Offset(got), count=min(BATCH * 3, count - got),
                                     auto_commit=False)
        if not msgs:
            fail(f"poll at offset {got} returned nothing ({count} expected)")
        for m in msgs:
            got += 1
            check_message(m, got, origin, offset=got - 1)
    return got


async def group_flow(addr, stream, topic):
    """Join a consumer group, poll with Next (auto-commit off), store offsets, reconnect, resume."""
    c = await connect(addr)
    consumer = await c.consumer_group("py-workers", stream, topic, batch_length=10,
                                      polling_strategy=PollingStrategy.Next(), auto_commit=AutoCommit.Disabled())
    it = consumer.iter_messages()
    last = None
    for k in range(20):
        m = await asyncio.wait_for(it.__anext__(), timeout=20)
        check_message(m, k + 1, "python", offset=k)
        if m.offset() % 10 == 9:
            # Auto-commit is off: Next only moves past what the group stored.
            await consumer.store_offset(m.offset(), m.partition_id())
            last = m
    g = await c.get_consumer_group(stream, topic, "py-workers")
    if g is None or g.members_count != 1 or g.members[0].partitions != [0]:
        fail(f"consumer group while consuming: {g and [(x.id, x.partitions) for x in g.members]}")
    log(f"group: consumed 20 with Next, stored offset {last.offset()}")
    # Reconnect: end this session (the server drops its membership) and start a new client.
    await c.logout_user()
    c2 = await connect(addr)
    consumer2 = await c2.consumer_group("py-workers", stream, topic, batch_length=10,
                                        polling_strategy=PollingStrategy.Next(), auto_commit=AutoCommit.Disabled())
    m = await asyncio.wait_for(consumer2.iter_messages().__anext__(), timeout=20)
    if m.offset() != last.offset() + 1:
        fail(f"resumed at offset {m.offset()}, want {last.offset() + 1}")
    check_message(m, m.offset() + 1, "python", offset=m.offset())
    g = await c2.get_consumer_group(stream, topic, "py-workers")
    if g is None or g.members_count != 1:
        fail(f"consumer group after resume: {g and g.members_count} members")
    log(f"group: resumed at offset {m.offset()} after reconnect")


async def scenario(addr, stream):
    c = await connect(addr)
    await c.ping()
    topic = "orders"
    await ensure_topic(c, stream, topic, 1)
    await produce(c, stream, topic, 1000, "python")
    log("sent 1000 messages in batches of 100")
    n = await consume(c, stream, topic, 1000, "python")
    log(f"polled {n} messages by offset: ids, payloads and headers match")
    for strategy, want in ((PollingStrategy.First(), 1), (PollingStrategy.Last(), 1000)):
        msgs = await c.poll_messages(stream=stream, topic=topic, consumer=Consumer.Single(2), partition_id=0,
                                     polling_strategy=strategy, count=1, auto_commit=False)
        if len(msgs) != 1:
            fail(f"{strategy}: {len(msgs)} messages")
        check_message(msgs[0], want, "python", offset=want - 1)
    # Next with auto-commit walks forward.
    for k in range(3):
        msgs = await c.poll_messages(stream=stream, topic=topic, consumer=Consumer.Single(3), partition_id=0,
                                     polling_strategy=PollingStrategy.Next(), count=10, auto_commit=True)
        if len(msgs) != 10 or msgs[0].offset() != k * 10:
            fail(f"next poll {k}: {[m.offset() for m in msgs]}")
    s = await c.get_stream(stream)
    if s is None or s.name != stream or s.topics_count != 1:
        fail(f"get_stream: {s}")
    t = await c.get_topic(stream, topic)
    if t is None or t.partitions_count != 1 or t.messages_count != 1000:
        fail(f"get_topic: {t}")
    try:
        await c.create_stream(stream)
        fail("duplicate create_stream succeeded")
    except RuntimeError as e:
        log(f"duplicate stream refused: {e}")
    if await c.get_stream("no-such-stream") is None:
        log("missing stream reads as None")
    else:
        fail("missing stream returned something")
    await group_flow(addr, stream, topic)
    log("scenario passed")


async def admin(addr, stream):
    """Management commands of the wheel against the server: topic options as the official server
    handles them, the option catalog, users, enforced permissions, update and purge."""
    c = await connect(addr)
    await c.create_stream(stream)
    try:
        await c.create_topic(stream=stream, name="wheel", partitions_count=1)
        fail("create_topic with the wheel's durability options succeeded; the official server refuses them")
    except RuntimeError as e:
        if "Unsupported option key" not in str(e):
            raise
        log(f"wheel create_topic refused as by Apache Iggy 0.9.0-edge.5: {e}")
    await raw_create_topic(c, stream, "t", 1, {"segment_size": "128 MiB", "enforce_fsync": "true", "max_topic_size": "1 GiB"})
    t = await c.get_topic(stream, "t")
    want = {HeaderKey.String("enforce_fsync"): HeaderValue.Bool(True),
            HeaderKey.String("max_topic_size"): HeaderValue.UnsignedInt64(1 << 30),
            HeaderKey.String("segment_size"): HeaderValue.UnsignedInt64(128 << 20)}
    if dict(t.options) != want:
        fail(f"topic options {t.options}, want the canonical {want}")
    want = {HeaderKey.String("compression_algorithm"): HeaderValue.String("none"),
            HeaderKey.String("message_expiry"): HeaderValue.UnsignedInt64((1 << 64) - 1),
            HeaderKey.String("messages_required_to_save"): HeaderValue.UnsignedInt32(1024),
            HeaderKey.String("preallocate_segments"): HeaderValue.Bool(False),
            HeaderKey.String("size_of_messages_required_to_save"): HeaderValue.UnsignedInt64(1 << 20)}
    if dict(t.derived_options) != want:
        fail(f"derived options {t.derived_options}, want {want}")
    log("topic options: string values come back canonical (Bool, Uint64), the 5 others derived")
    keys = [(d.key, d.kind) for d in await c.describe_options("topic")]
    if keys != [("compression_algorithm", "string"), ("message_expiry", "uint64"), ("max_topic_size", "uint64"),
                ("segment_size", "uint64"), ("enforce_fsync", "bool"), ("messages_required_to_save", "uint32"),
                ("size_of_messages_required_to_save", "uint64"), ("preallocate_segments", "bool")]:
        fail(f"describe_options: {keys}")
    log("describe_options: the 8 catalog keys")

    sid = (await c.get_stream(stream)).id
    user, pw = stream + "-reader", "pw-reader"
    u = await c.create_user(user, pw, permissions=Permissions(global_permissions=GlobalPermissions(read_streams=True)))
    if u.username != user or not u.permissions.global_permissions.read_streams or u.permissions.global_permissions.send_messages:
        fail(f"create_user reply {u.username} {u.permissions}")
    if user not in [x.username for x in await c.get_users()]:
        fail("get_users does not list the new user")
    await produce(c, stream, "t", 1, "python")
    r = await connect(addr, user, pw)
    if len(await r.poll_messages(stream=stream, topic="t", consumer=Consumer.Single(1), partition_id=0,
                                 polling_strategy=PollingStrategy.First(), count=1, auto_commit=False)) != 1:
        fail("a read_streams user cannot poll")
    for what, call in (("send_messages", lambda: produce(r, stream, "t", 1, "python")),
                       ("get_stats", lambda: r.get_stats()),
                       ("create_stream", lambda: r.create_stream(stream + "-x"))):
        try:
            await call()
            fail(f"{what} by a read-only user succeeded")
        except RuntimeError as e:
            log(f"read-only user: {what} refused ({e})")
    await c.update_permissions(user, Permissions(global_permissions=GlobalPermissions(read_streams=True),
                                                 streams={sid: StreamPermissions(send_messages=True)}))
    await produce(r, stream, "t", 1, "python")
    log("after update_permissions (send_messages on the stream) the user sends")
    await r.change_password(user, pw, "pw-reader-2")
    await c.update_user(user, username=user + "2")
    r2 = await connect(addr, user + "2", "pw-reader-2")
    if (await r2.get_user(user + "2")).username != user + "2":
        fail("get_user of itself after rename")
    await c.delete_user(user + "2")
    if await c.get_user(user + "2") is not None:
        fail("deleted user still there")
    log("change_password (own), update_user (rename), get_user, delete_user")

    # DeleteConsumerOffset (122) of an offset never stored: status 3021, which the wheel reports as
    # its ConsumerOffsetNotFound error (it has no method of its own for the command).
    body = bytes([1, 1, 4]) + struct.pack("<I", 77) + identifier(stream) + identifier("t") + bytes([1]) + struct.pack("<I", 0) + bytes([1])
    try:
        await c.send_binary_request(122, body)
        fail("deleting a never-stored consumer offset succeeded")
    except RuntimeError as e:
        if "Consumer offset" not in str(e):
            raise
        log(f"delete of a never-stored offset refused: {e}")
    # GetClients (22): [client_id u32][user_id u32][transport u8][address u32-len][groups u32]...
    raw, clients = bytes(await c.send_binary_request(22, b"")), []
    while raw:
        cid, uid, transport, n = struct.unpack_from("<IIBI", raw)
        clients.append((cid, uid, transport, raw[13:13 + n].decode()))
        raw = raw[13 + n + 4:]
    if len(clients) < 2 or any(t != 1 or ":" not in a for _, _, t, a in clients):
        fail(f"get_clients (raw): {clients}")
    log(f"get_clients (raw 22): {len(clients)} TCP clients")

    await c.update_topic(stream, "t", "t2", options={"message_expiry": "1h"})
    t = await c.get_topic(stream, "t2")
    if t is None or t.messages_count != 2 or HeaderKey.String("message_expiry") not in t.options:
        fail(f"update_topic: {t and (t.name, t.messages_count, t.options)}")
    await c.purge_topic(stream, "t2")
    if (await c.get_topic(stream, "t2")).messages_count != 0:
        fail("purge_topic left messages")
    await c.update_stream(stream, stream + "-renamed")
    await c.purge_stream(stream + "-renamed")
    await c.delete_stream(stream + "-renamed")
    log("update_topic, purge_topic, update_stream, purge_stream")
    log("admin scenario passed")


async def group_member(addr, stream, topic, group, seconds):
    """Consume as a member of group for a while, storing the offset after every message, and print
    one 'consumed PARTITION OFFSET ID' line per message (for the mixed-language group check)."""
    c = await connect(addr)
    consumer = await c.consumer_group(group, stream, topic, batch_length=5, polling_strategy=PollingStrategy.Next(),
                                      auto_commit=AutoCommit.Disabled())
    it = consumer.iter_messages()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        try:
            m = await asyncio.wait_for(it.__anext__(), timeout=max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        print(f"consumed {m.partition_id()} {m.offset()} {m.id()}", flush=True)
        try:
            await consumer.store_offset(m.offset(), m.partition_id())
        except RuntimeError as e:  # the partition moved to the other member meanwhile
            log(f"group member: offset {m.offset()} of partition {m.partition_id()} not stored: {e}")
        n += 1
        await asyncio.sleep(0.02)  # a slow member, so that the other one gets partitions too
    log(f"group member consumed {n} messages")
    await c.logout_user()


async def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    addr, cmd = sys.argv[1], sys.argv[2]
    if cmd == "scenario":
        await scenario(addr, sys.argv[3])
    elif cmd == "admin":
        await admin(addr, sys.argv[3])
    elif cmd == "group-member":
        await group_member(addr, sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]))
    elif cmd == "check-coverage":
        # check-coverage FILE...: the members' 'consumed P O ID' lines cover partitions 0 and 1,
        # offsets 0..99, with the ids gointerop group-setup gave them, and every file has some.
        seen = set()
        for path in sys.argv[3:]:
            lines = [l.split() for l in open(path) if l.startswith("consumed ")]
            if not lines:
                fail(f"{path}: the member consumed nothing")
            for _, p, o, i in lines:
                p, o, i = int(p), int(o), int(i)
                if i != p * 1000 + o + 1:
                    fail(f"{path}: partition {p} offset {o} has id {i}")
                seen.add((p, o))
        missing = {(p, o) for p in (0, 1) for o in range(100)} - seen
        if missing:
            fail(f"never consumed: {sorted(missing)[:10]}... ({len(missing)} messages)")
        log(f"the members together consumed all 200 messages ({', '.join(sys.argv[3:])})")
    elif cmd == "produce":
        stream, topic, count, origin = sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
        c = await connect(addr)
        await ensure_topic(c, stream, topic, 1)
        await produce(c, stream, topic, count, origin)
        log(f"produced {count} messages to {stream}/{topic}")
    elif cmd == "consume":
        stream, topic, count, origin = sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
        c = await connect(addr)
        n = await consume(c, stream, topic, count, origin)
        log(f"consumed and verified {n} messages from {stream}/{topic} (origin {origin})")
    else:
        fail(f"unknown command {cmd}")


def run():
    # The wheel's Tokio runtime sometimes aborts the interpreter while it shuts down (SIGABRT after
    # everything passed; see docs/iggy-protocol-notes.md), so leave with os._exit once the outcome
    # is known instead of running the interpreter's finalisation.
    code = 0
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=240))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


run()
