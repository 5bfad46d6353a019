package config

import (
	"encoding/json"
	"testing"
)

// Any input gives a config or problems, never a panic; an accepted config round-trips.
func FuzzConnectorTOML(f *testing.F) {
	f.Add([]byte(minimalSink))
	f.Add([]byte(minimalSource))
	f.Add([]byte(minimalSinkHead + "[transforms]\nadd_fields = { fields = [{ key = \"a\", value = { static = 1 } }] }\n" + minimalSinkStreams))
	f.Add([]byte(minimalSinkHead + "[[transforms]]\ntype = \"delete_fields\"\nfields = [\"x\"]\n" + minimalSinkStreams))
	f.Add([]byte("type = 'sink'\nkey = \"k\"\n[plugin_config]\na.b.c = [1, {x = 2}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, ps := LoadConnectorTOML("f.toml", data)
		if c == nil {
			if !ps.HasErrors() {
				t.Fatalf("no config and no error: %v", ps)
			}
			return
		}
		out, err := c.MarshalTOML()
		if err != nil {
			return // e.g. NaN in plugin_config: representable in TOML input only
		}
		back, ps := LoadConnectorTOML("f.toml", out)
		if back == nil {
			t.Fatalf("re-reading our own TOML failed: %v\n%s", ps, out)
		}
		if _, err := json.Marshal(back); err != nil {
			return
		}
	})
}

func BenchmarkLoadConnectorTOML(b *testing.B) {
	data := []byte(minimalSinkHead + "[plugin_config]\nconnection_string = \"postgres://u:p@h/db\"\ntarget_table = \"t\"\n" +
		"[transforms.add_fields]\n[[transforms.add_fields.fields]]\nkey = \"a\"\nvalue.computed = \"uuid_v7\"\n" +
		"[transforms.delete_fields]\nfields = [\"x\"]\n" + minimalSinkStreams)
	b.ReportAllocs()
	for b.Loop() {
		if c, ps := LoadConnectorTOML("b.toml", data); c == nil {
			b.Fatal(ps)
		}
	}
}
