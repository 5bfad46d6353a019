package iggyserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// state is everything the server knows. Guarded by Server.mu.
type state struct {
	cfg     Config
	log     *slog.Logger
	meta    metaFile
	streams map[uint32]*stream
	users   map[uint32]*user
}

type stream struct {
	id        uint32
	name      string
	createdAt uint64
	topics    map[uint32]*topic
}

type topic struct {
	stream      *stream
	id          uint32
	name        string
	createdAt   uint64
	options     []wire.Header // as the client sent them (owned copies)
	expiry      uint64
	maxSize     uint64
	compression uint8
	partitions  []*partition // index = partition id
	groups      map[uint32]*group
	rr          uint32 // balanced partitioning counter
}

type partition struct {
	topic     *topic
	id        uint32
	createdAt uint64
	batches   []storedBatch
	next      uint64 // offset the next message gets
	sizeBytes uint64
	lastTS    uint64
	offsets   map[offsetKey]uint64
	log       *os.File
}

type storedBatch struct {
	rec   []byte   // stamped record
	base  uint64   // base offset
	ts    uint64   // broker timestamp
	spans []uint32 // frame starts within rec, then rec length
}

func (b *storedBatch) count() uint64 { return uint64(len(b.spans) - 1) }

type offsetKey struct {
	Kind uint8
	ID   uint32
}

type group struct {
	topic      *topic
	id         uint32
	name       string
	generation uint64
	members    []*member // in join order
}

type member struct {
	conn       *conn
	client     wire.U128
	id         uint32
	partitions []uint32
}

// metaFile is the JSON persisted in DataDir/metadata.json.
type metaFile struct {
	LastSession uint64       `json:"last_session"`
	Streams     []metaStream `json:"streams"`
	Tokens      []metaToken  `json:"personal_access_tokens"`
	Users       []*user      `json:"users,omitempty"`
}

type metaStream struct {
	ID        uint32      `json:"id"`
	Name      string      `json:"name"`
	CreatedAt uint64      `json:"created_at"`
	Topics    []metaTopic `json:"topics"`
}

type metaTopic struct {
	ID          uint32          `json:"id"`
	Name        string          `json:"name"`
	CreatedAt   uint64          `json:"created_at"`
	Options     []wire.Header   `json:"options,omitempty"`
	Expiry      uint64          `json:"message_expiry"`
	MaxSize     uint64          `json:"max_topic_size"`
	Compression uint8           `json:"compression"`
	Partitions  []metaPartition `json:"partitions"`
	Groups      []metaGroup     `json:"consumer_groups,omitempty"`
}

type metaPartition struct {
	ID        uint32       `json:"id"`
	CreatedAt uint64       `json:"created_at"`
	Offsets   []metaOffset `json:"offsets,omitempty"`
}

type metaOffset struct {
	Kind   uint8  `json:"kind"`
	ID     uint32 `json:"id"`
	Offset uint64 `json:"offset"`
}

type metaGroup struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
}

type metaToken struct {
	Name   string `json:"name"`
	UserID uint32 `json:"user_id"`
	Hash   string `json:"sha256"`
	Expiry uint64 `json:"expiry_at"` // µs since epoch, 0 = never
}

func nowMicros() uint64 { return uint64(time.Now().UnixMicro()) }

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func (st *state) persistent() bool { return st.cfg.DataDir != "" }

// loadState reads DataDir (metadata.json and the partition logs), or returns an empty state.
func loadState(cfg Config, log *slog.Logger) (*state, error) {
	st := &state{cfg: cfg, log: log, streams: map[uint32]*stream{}, users: map[uint32]*user{}}
	if cfg.DataDir == "" {
		st.ensureUsers(cfg)
		return st, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("iggy-devserver: data dir: %w", err)
	}
	raw, err := os.ReadFile(st.metaPath())
	if os.IsNotExist(err) {
		st.ensureUsers(cfg)
		return st, st.save()
	}
	if err != nil {
		return nil, fmt.Errorf("iggy-devserver: %w", err)
	}
	if err := json.Unmarshal(raw, &st.meta); err != nil {
		return nil, fmt.Errorf("iggy-devserver: %s: %w", st.metaPath(), err)
	}
	for _, u := range st.meta.Users {
		st.users[u.ID] = u
	}
	st.ensureUsers(cfg)
	for _, ms := range st.meta.Streams {
		s := &stream{id: ms.ID, name: ms.Name, createdAt: ms.CreatedAt, topics: map[uint32]*topic{}}
		st.streams[s.id] = s
		for _, mt := range ms.Topics {
			t := &topic{stream: s, id: mt.ID, name: mt.Name, createdAt: mt.CreatedAt, options: mt.Options,
				expiry: mt.Expiry, maxSize: mt.MaxSize, compression: mt.Compression, groups: map[uint32]*group{}}
			if opts, err := parseTopicOptions(mt.Options, false); err == nil { // files of older versions kept the raw options
				t.options = opts
				applyTopicOptions(t)
			}
			s.topics[t.id] = t
			for _, mp := range mt.Partitions {
				p := &partition{topic: t, id: mp.ID, createdAt: mp.CreatedAt, offsets: map[offsetKey]uint64{}}
				for _, o := range mp.Offsets {
					p.offsets[offsetKey{o.Kind, o.ID}] = o.Offset
				}
				if err := st.openLog(p); err != nil {
					return nil, err
				}
				t.partitions = append(t.partitions, p)
			}
			for _, mg := range mt.Groups {
				t.groups[mg.ID] = &group{topic: t, id: mg.ID, name: mg.Name}
			}
		}
	}
	log.Info("iggy-devserver: loaded data", "dir", cfg.DataDir, "streams", len(st.streams))
	return st, nil
}

func (st *state) metaPath() string { return filepath.Join(st.cfg.DataDir, "metadata.json") }

func (st *state) logPath(p *partition) string {
	return filepath.Join(st.cfg.DataDir, "streams", fmt.Sprint(p.topic.stream.id), fmt.Sprint(p.topic.id), fmt.Sprintf("%d.log", p.id))
}

// openLog opens (creating) a partition's log and loads its records. A torn or corrupt tail (a
// write cut short by a crash) is truncated away with a warning.
func (st *state) openLog(p *partition) error {
	if !st.persistent() {
		return nil
	}
	path := st.logPath(p)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("iggy-devserver: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("iggy-devserver: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("iggy-devserver: read %s: %w", path, err)
	}
	good := 0
	for good < len(data) {
		info, err := wire.ReadBatchInfo(data[good:])
		if err != nil || info.BatchLength < wire.BatchHeaderSize || info.BatchLength > uint64(len(data)-good) {
			break
		}
		rec := data[good : good+int(info.BatchLength)]
		if err := wire.ValidateBatch(rec, info.MessageCount); err != nil || info.BaseOffset != p.next {
			st.log.Warn("iggy-devserver: corrupt record in partition log", "file", path, "byte", good, "err", err)
			break
		}
		p.addBatch(rec, info.BaseTimestamp)
		good += len(rec)
	}
	if good < len(data) {
		st.log.Warn("iggy-devserver: truncating torn tail of partition log", "file", path, "at_byte", good, "dropped_bytes", len(data)-good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return fmt.Errorf("iggy-devserver: truncate %s: %w", path, err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("iggy-devserver: %w", err)
	}
	p.log = f
	return nil
}

// addBatch indexes a stamped record (owned by the partition from now on).
func (p *partition) addBatch(rec []byte, ts uint64) {
	spans := wire.FrameSpans(rec, nil)
	sp := make([]uint32, len(spans))
	for i, v := range spans {
		sp[i] = uint32(v)
	}
	b := storedBatch{rec: rec, base: p.next, ts: ts, spans: sp}
	p.batches = append(p.batches, b)
	p.next += b.count()
	p.sizeBytes += uint64(len(rec))
	p.lastTS = max(p.lastTS, ts)
}

// append writes a stamped record to the log (before the reply goes out) and indexes it.
func (st *state) append(p *partition, rec []byte, ts uint64) error {
	if p.log != nil {
		if _, err := p.log.Write(rec); err != nil {
			return fmt.Errorf("write %s: %w", p.log.Name(), err)
		}
		if st.cfg.Fsync {
			if err := p.log.Sync(); err != nil {
				return fmt.Errorf("fsync %s: %w", p.log.Name(), err)
			}
		}
	}
	p.addBatch(rec, ts)
	return nil
}

// save writes metadata.json atomically (temp file, optional fsync, rename).
func (st *state) save() error {
	if !st.persistent() {
		return nil
	}
	m := metaFile{LastSession: st.meta.LastSession, Tokens: st.meta.Tokens, Users: sortedUsers(st.users)}
	for _, s := range sortedStreams(st.streams) {
		ms := metaStream{ID: s.id, Name: s.name, CreatedAt: s.createdAt}
		for _, t := range sortedTopics(s.topics) {
			mt := metaTopic{ID: t.id, Name: t.name, CreatedAt: t.createdAt, Options: t.options, Expiry: t.expiry, MaxSize: t.maxSize, Compression: t.compression}
			for _, p := range t.partitions {
				mp := metaPartition{ID: p.id, CreatedAt: p.createdAt}
				for k, o := range p.offsets {
					mp.Offsets = append(mp.Offsets, metaOffset{k.Kind, k.ID, o})
				}
				sort.Slice(mp.Offsets, func(i, j int) bool {
					a, b := mp.Offsets[i], mp.Offsets[j]
					return a.Kind < b.Kind || a.Kind == b.Kind && a.ID < b.ID
				})
				mt.Partitions = append(mt.Partitions, mp)
			}
			for _, g := range sortedGroups(t.groups) {
				mt.Groups = append(mt.Groups, metaGroup{g.id, g.name})
			}
			ms.Topics = append(ms.Topics, mt)
		}
		m.Streams = append(m.Streams, ms)
	}
	raw, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	tmp := st.metaPath() + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("iggy-devserver: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return fmt.Errorf("iggy-devserver: write %s: %w", tmp, err)
	}
	if st.cfg.Fsync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("iggy-devserver: fsync %s: %w", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("iggy-devserver: %w", err)
	}
	if err := os.Rename(tmp, st.metaPath()); err != nil {
		return fmt.Errorf("iggy-devserver: %w", err)
	}
	return nil
}

func (st *state) close() {
	for _, s := range st.streams {
		for _, t := range s.topics {
			for _, p := range t.partitions {
				p.closeLog()
			}
		}
	}
}

func (p *partition) closeLog() {
	if p.log != nil {
		p.log.Close()
		p.log = nil
	}
}

// purgeTopic deletes every message of t and every stored consumer and group offset, keeping its
// partitions and group memberships (as the official PurgeTopic does). Server.mu held.
func (st *state) purgeTopic(t *topic) error {
	for _, p := range t.partitions {
		if p.log != nil {
			if err := p.log.Truncate(0); err != nil {
				return fmt.Errorf("truncate %s: %w", p.log.Name(), err)
			}
			if _, err := p.log.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
		p.batches, p.next, p.sizeBytes, p.lastTS = nil, 0, 0, 0
		clear(p.offsets)
	}
	return nil
}

func (st *state) removeLog(p *partition) {
	p.closeLog()
	if st.persistent() {
		os.Remove(st.logPath(p))
	}
}

func sortedStreams(m map[uint32]*stream) []*stream {
	out := make([]*stream, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func sortedTopics(m map[uint32]*topic) []*topic {
	out := make([]*topic, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func sortedGroups(m map[uint32]*group) []*group {
	out := make([]*group, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// lowest free id in a map keyed by id.
func freeID[V any](m map[uint32]V) uint32 {
	for i := uint32(0); ; i++ {
		if _, ok := m[i]; !ok {
			return i
		}
	}
}

// Lookups by identifier.

func (st *state) findStream(id wire.Identifier) *stream {
	if id.Kind == wire.IDNumeric {
		return st.streams[id.Num]
	}
	for _, s := range st.streams {
		if s.name == id.Str {
			return s
		}
	}
	return nil
}

func (s *stream) findTopic(id wire.Identifier) *topic {
	if id.Kind == wire.IDNumeric {
		return s.topics[id.Num]
	}
	for _, t := range s.topics {
		if t.name == id.Str {
			return t
		}
	}
	return nil
}

func (t *topic) findGroup(id wire.Identifier) *group {
	if id.Kind == wire.IDNumeric {
		return t.groups[id.Num]
	}
	for _, g := range t.groups {
		if g.name == id.Str {
			return g
		}
	}
	return nil
}

func (t *topic) partition(id uint32) *partition {
	if int64(id) < int64(len(t.partitions)) {
		return t.partitions[id]
	}
	return nil
}

func (t *topic) messages() (n, size uint64) {
	for _, p := range t.partitions {
		n += p.next
		size += p.sizeBytes
	}
	return n, size
}

func (st *state) newPartition(t *topic, id uint32) (*partition, error) {
	p := &partition{topic: t, id: id, createdAt: nowMicros(), offsets: map[offsetKey]uint64{}}
	if st.persistent() {
		os.Remove(st.logPath(p)) // a leftover of a deleted partition with the same id
		if err := st.openLog(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}
