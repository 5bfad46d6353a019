# MongoDB sink: FerretDB (scripts/ferretdb.sh: test/cmd/ferretdb on the PostgreSQL test cluster) and
# the sink's suites (plugin-level tests against FerretDB, end to end through the runtime), read back
# with pymongo. Sourced by scripts/test.sh; see README.md here.
service ferretdb 'scripts/ferretdb.sh start >&2 && scripts/ferretdb.sh env' 'scripts/ferretdb.sh stop'
suite 'integration: MongoDB sink (FerretDB, pymongo)' ferretdb \
  'build/venv/bin/python -c "import pymongo" 2>/dev/null || build/venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt; cd connectors/sinks/mongodb && go test -count=1 -p 1 -tags integration -timeout 25m ./...'
