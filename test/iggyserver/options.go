package iggyserver

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// Topic options as the official server handles them (core/common/src/types/options): every
// catalog key is parsed into its canonical kind (sizes and expiries Uint64, enforce_fsync and
// preallocate_segments Bool, messages_required_to_save Uint32, compression a String), the
// client's keys are echoed in that form, and every key the client did not send is reported in the
// derived block with the server default.

// Catalog keys.
const (
	optCompression     = "compression_algorithm"
	optMessageExpiry   = "message_expiry"
	optMaxTopicSize    = "max_topic_size"
	optSegmentSize     = "segment_size"
	optEnforceFsync    = "enforce_fsync"
	optMessagesToSave  = "messages_required_to_save"
	optSizeToSave      = "size_of_messages_required_to_save"
	optPreallocSegment = "preallocate_segments"
)

// Defaults and bounds of the official server.
const (
	defaultSegmentSize        = 1 << 30 // 1 GiB
	minSegmentSize            = 1 << 20 // 1 MiB
	maxSegmentSize            = 1 << 30
	defaultMessagesToSave     = 1024
	maxMessagesToSave         = 16 << 20
	defaultSizeToSave         = 1 << 20
	maxSizeToSave             = 1 << 30
	maxPreallocatedTopicBytes = 64 << 30
)

// topicCatalog lists the keys with their kind, default and description (DescribeOptions 13,
// scope topic), in the official order.
var topicCatalog = []wire.OptionDescriptor{
	{Key: optCompression, Kind: wire.KindString, Default: []byte("none"), Description: "Compression algorithm (none, gzip)"},
	{Key: optMessageExpiry, Kind: wire.KindUint64, Default: u64le(math.MaxUint64), Description: "Message expiry in microseconds, or a humantime string (e.g. 7 days)"},
	{Key: optMaxTopicSize, Kind: wire.KindUint64, Default: u64le(math.MaxUint64), Description: "Topic size cap in bytes, or a byte-size string (e.g. 1 GiB); must be at least the segment size"},
	{Key: optSegmentSize, Kind: wire.KindUint64, Default: u64le(defaultSegmentSize), Description: fmt.Sprintf("Segment size in bytes, or a byte-size string (e.g. 128 MiB); a 512-byte multiple within %d..=%d", minSegmentSize, maxSegmentSize)},
	{Key: optEnforceFsync, Kind: wire.KindBool, Default: []byte{0}, Description: "Whether writes to this topic's partitions fsync"},
	{Key: optMessagesToSave, Kind: wire.KindUint32, Default: binary.LittleEndian.AppendUint32(nil, defaultMessagesToSave), Description: fmt.Sprintf("Flush the journal once it holds this many messages; 1..=%d", maxMessagesToSave)},
	{Key: optSizeToSave, Kind: wire.KindUint64, Default: u64le(defaultSizeToSave), Description: fmt.Sprintf("Flush the journal once it holds this many bytes, or a byte-size string; at most %d", maxSizeToSave)},
	{Key: optPreallocSegment, Kind: wire.KindBool, Default: []byte{0}, Description: fmt.Sprintf("Reserve each segment's bytes up front; segment_size * partitions_count is capped at %d bytes", uint64(maxPreallocatedTopicBytes))},
}

// updatableTopicKeys are the keys UpdateTopic accepts (the others are create-only).
var updatableTopicKeys = map[string]bool{optCompression: true, optMessageExpiry: true, optMaxTopicSize: true}

func u64le(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func optKey(k string) []byte { return []byte(k) }

// canonicalOption parses one client option into its canonical header; absent is true for the
// "server default" sentinels (0 sizes, 0 or "server_default" expiry), which the official server
// treats as not sent. Errors are 4041 (unknown key) or 4042 (bad value) in the header status.
func canonicalOption(o wire.Header) (h wire.Header, absent bool, err error) {
	key := string(o.Key)
	bad := func() (wire.Header, bool, error) {
		return wire.Header{}, false, statusErr(wire.ErrCodeInvalidOptionValue, "topic option %s: invalid value %q (kind %d)", key, o.Value, o.ValueKind)
	}
	str := string(o.Value)
	isStr := o.ValueKind == wire.KindString
	u64 := func(v uint64) wire.Header { return wire.Uint64Header(key, v) }
	switch key {
	case optCompression:
		var name string
		switch {
		case o.ValueKind == wire.KindUint8 && len(o.Value) == 1 && o.Value[0] == 1, isStr && strings.EqualFold(str, "none"):
			name = "none"
		case o.ValueKind == wire.KindUint8 && len(o.Value) == 1 && o.Value[0] == 2, isStr && strings.EqualFold(str, "gzip"):
			name = "gzip"
		default:
			return bad()
		}
		return wire.StringHeader(key, name), false, nil
	case optMessageExpiry:
		var v uint64
		switch {
		case o.ValueKind == wire.KindUint64:
			v = binary.LittleEndian.Uint64(o.Value)
		case isStr:
			var ok bool
			if v, ok = parseExpiry(str); !ok {
				return bad()
			}
		default:
			return bad()
		}
		return u64(v), v == 0, nil
	case optMaxTopicSize, optSegmentSize, optSizeToSave:
		var v uint64
		switch {
		case o.ValueKind == wire.KindUint64:
			v = binary.LittleEndian.Uint64(o.Value)
		case isStr && key == optMaxTopicSize && str == "unlimited":
			v = math.MaxUint64
		case isStr && key == optMaxTopicSize && str == "server_default":
			v = 0
		case isStr:
			var ok bool
			if v, ok = parseByteSize(str); !ok {
				return bad()
			}
		default:
			return bad()
		}
		switch {
		case key == optSegmentSize && v != 0 && (v < minSegmentSize || v > maxSegmentSize || v%512 != 0):
			return wire.Header{}, false, statusErr(wire.ErrCodeInvalidOptionValue,
				"topic option segment_size %d: must be a multiple of 512 within %d..%d (0 = server default)", v, minSegmentSize, maxSegmentSize)
		case key == optSizeToSave && v > maxSizeToSave:
			return bad()
		}
		return u64(v), v == 0, nil
	case optEnforceFsync, optPreallocSegment:
		var v bool
		switch {
		case o.ValueKind == wire.KindBool && len(o.Value) == 1 && o.Value[0] <= 1:
			v = o.Value[0] == 1
		case isStr && (str == "true" || str == "false"):
			v = str == "true"
		default:
			return bad()
		}
		b := byte(0)
		if v {
			b = 1
		}
		return wire.Header{KeyKind: wire.KindString, Key: optKey(key), ValueKind: wire.KindBool, Value: []byte{b}}, false, nil
	case optMessagesToSave:
		var v uint64
		switch {
		case o.ValueKind == wire.KindUint32:
			v = uint64(binary.LittleEndian.Uint32(o.Value))
		case isStr:
			n, err := strconv.ParseUint(str, 10, 32)
			if err != nil {
				return bad()
			}
			v = n
		default:
			return bad()
		}
		if v == 0 || v > maxMessagesToSave {
			return wire.Header{}, false, statusErr(wire.ErrCodeInvalidOptionValue,
				"topic option messages_required_to_save %d: must be 1..%d", v, maxMessagesToSave)
		}
		return wire.Header{KeyKind: wire.KindString, Key: optKey(key), ValueKind: wire.KindUint32, Value: binary.LittleEndian.AppendUint32(nil, uint32(v))}, false, nil
	}
	return wire.Header{}, false, statusErr(wire.ErrCodeUnsupportedOptionKey, "unsupported topic option %q", key)
}

// parseTopicOptions validates a client option block (CreateTopic, or UpdateTopic with update
// set) and returns the canonical explicit options sorted by key. Duplicate or non-string keys
// make the body undecodable (status 3), as in the official decoder.
func parseTopicOptions(opts []wire.Header, update bool) ([]wire.Header, error) {
	seen := map[string]bool{}
	var out []wire.Header
	for _, o := range opts {
		key := string(o.Key)
		if o.KeyKind != wire.KindString {
			return nil, badBody(fmt.Errorf("option key kind %d is not a string", o.KeyKind))
		}
		if seen[key] {
			return nil, badBody(fmt.Errorf("duplicate option key %q", key))
		}
		seen[key] = true
		if update && !updatableTopicKeys[key] {
			return nil, statusErr(wire.ErrCodeUnsupportedOptionKey, "topic option %q cannot be updated (updatable: compression_algorithm, message_expiry, max_topic_size)", key)
		}
		h, absent, err := canonicalOption(o)
		if err != nil {
			return nil, err
		}
		if !absent {
			out = append(out, h)
		}
	}
	sortOptions(out)
	return out, nil
}

func sortOptions(hs []wire.Header) {
	sort.Slice(hs, func(i, j int) bool { return string(hs[i].Key) < string(hs[j].Key) })
}

func findOption(hs []wire.Header, key string) (wire.Header, bool) {
	for _, h := range hs {
		if string(h.Key) == key {
			return h, true
		}
	}
	return wire.Header{}, false
}

// optionU64 returns the canonical Uint64 option key of hs, or def when absent.
func optionU64(hs []wire.Header, key string, def uint64) uint64 {
	if h, ok := findOption(hs, key); ok && h.ValueKind == wire.KindUint64 {
		return binary.LittleEndian.Uint64(h.Value)
	}
	return def
}

// derivedOptions returns the catalog keys missing from explicit, with the server defaults.
func derivedOptions(explicit []wire.Header) []wire.Header {
	var out []wire.Header
	for _, d := range topicCatalog {
		if _, ok := findOption(explicit, d.Key); !ok {
			out = append(out, wire.Header{KeyKind: wire.KindString, Key: optKey(d.Key), ValueKind: d.Kind, Value: d.Default})
		}
	}
	sortOptions(out)
	return out
}

// applyTopicOptions sets the typed fields of t from its canonical explicit options.
func applyTopicOptions(t *topic) {
	t.expiry = optionU64(t.options, optMessageExpiry, math.MaxUint64)
	t.maxSize = optionU64(t.options, optMaxTopicSize, math.MaxUint64)
	t.compression = 1
	if h, ok := findOption(t.options, optCompression); ok && string(h.Value) == "gzip" {
		t.compression = 2
	}
}

// checkTopicSize rejects a max_topic_size below the topic's segment size (1019 InvalidTopicSize),
// as the official server's admission does.
func checkTopicSize(explicit []wire.Header, segmentSize uint64) error {
	if h, ok := findOption(explicit, optMaxTopicSize); ok {
		if v := binary.LittleEndian.Uint64(h.Value); v < segmentSize {
			return statusErr(wire.ErrCodeInvalidTopicSize, "max_topic_size %d is below the segment size %d", v, segmentSize)
		}
	}
	return nil
}

// parseByteSize parses "128 MiB", "1GB", "512B", "4096" (decimal units are powers of 1000,
// binary ones of 1024).
func parseByteSize(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	switch s {
	case "0", "unlimited", "Unlimited", "none", "None":
		return 0, true
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || num < 0 {
		return 0, false
	}
	unit := strings.ToLower(strings.TrimSpace(s[i:]))
	mult := map[string]float64{"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30, "ti": 1 << 40, "tib": 1 << 40}[unit]
	if mult == 0 {
		return 0, false
	}
	v := num * mult
	if v >= math.MaxUint64 {
		return 0, false
	}
	return uint64(v), true
}

// parseExpiry parses a message_expiry string: "unlimited"/"none"/"never_expire" (never, u64::MAX),
// "default"/"server_default" (0), or a humantime duration such as "7 days", "1h 30m", "15s".
func parseExpiry(s string) (uint64, bool) {
	switch s {
	case "unlimited", "none", "None", "Unlimited", "never_expire":
		return math.MaxUint64, true
	case "default", "server_default", "Default", "Server_default":
		return 0, true
	}
	units := map[string]time.Duration{"us": time.Microsecond, "usec": time.Microsecond, "ms": time.Millisecond, "msec": time.Millisecond,
		"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
		"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour}
	var total time.Duration
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, false
	}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, err := strconv.ParseUint(rest[:i], 10, 32)
		if err != nil {
			return 0, false
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := 0
		for j < len(rest) && (rest[j] >= 'a' && rest[j] <= 'z' || rest[j] >= 'A' && rest[j] <= 'Z') {
			j++
		}
		u, ok := units[strings.ToLower(rest[:j])]
		if !ok {
			return 0, false
		}
		total += time.Duration(n) * u
		rest = strings.TrimLeft(rest[j:], " ")
	}
	if total <= 0 {
		return 0, false
	}
	return uint64(total.Microseconds()), true
}
