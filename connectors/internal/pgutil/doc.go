// Package pgutil holds what the PostgreSQL sink (connectors/sinks/postgres) and source
// (connectors/sources/postgres) share: identifier parsing and quoting for the SQL text they build,
// the pool settings of connection_string and max_connections, the classification of PostgreSQL
// errors (transient, data error, unique violation) and the retry policy of their max_retries and
// retry_delay settings.
//
// It is internal to the connectors: only packages under github.com/iggy-go/connectors/connectors/
// may import it. Everything here is safe for concurrent use; nothing keeps state.
package pgutil
