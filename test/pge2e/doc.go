// Package pge2e holds the end-to-end acceptance tests of the PostgreSQL connectors (issue 6), run
// through the real runtime binary: iggy-devserver and iggy-connectors are started as processes, the
// connectors are configured with connector TOML files, PostgreSQL is a real server
// (IGGY_TEST_PG_URL) and the results are read back independently — Iggy with the project's Go
// client, PostgreSQL with the real psql client.
//
// The tests carry the build tag integration:
//
//	scripts/postgres.sh start && eval "$(scripts/postgres.sh env)"
//	go test -tags integration -count=1 -p 1 ./test/pge2e/
//
// By default the binaries and the two plugins are built into a temporary directory with the layout
// of `make build plugins` (bin/ next to plugins/, so the runtime finds the plugins by name). With
// IGGY_PGE2E_PREBUILT=1 the tests use build/bin and build/plugins of the repository instead.
package pge2e
