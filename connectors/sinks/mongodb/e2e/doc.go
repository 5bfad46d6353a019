// Package e2e holds the end-to-end tests of the MongoDB sink (issue 11), run through the real
// runtime binary: iggy-devserver and iggy-connectors are started as processes, the sink is
// configured with a connector TOML file, the MongoDB side is FerretDB (scripts/ferretdb.sh, or a
// private FerretDB a test stops and starts), and the collection is read back with pymongo.
//
//	scripts/ferretdb.sh start && eval "$(scripts/ferretdb.sh env)"
//	cd connectors/sinks/mongodb && go test -tags integration -count=1 -p 1 ./e2e/
//
// The binaries and the plugin are built into a temporary directory with the layout of `make build
// plugins` (bin/ next to plugins/, so the runtime finds the plugin by name).
package e2e
