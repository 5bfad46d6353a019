package icebergsink

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // registers the s3:// scheme
	_ "github.com/jackc/pgx/v5/stdlib"             // database/sql driver "pgx"
	_ "github.com/mattn/go-sqlite3"                // database/sql driver "sqlite3"
)

// catalogName is the name the SQL catalog's rows are stored under (column catalog_name); pyiceberg's
// and Java's JDBC catalogs read the same rows when configured with this name.
const defaultCatalogName = "default"

// storeProps are the FileIO properties of the configured store, passed to the catalog (which hands
// them to every table's FileIO).
func (c *Config) storeProps() iceberg.Properties {
	p := iceberg.Properties{}
	if c.StoreClass != storeS3 {
		return p
	}
	if c.StoreURL != "" {
		p[icebergio.S3EndpointURL] = c.StoreURL
	}
	if c.StoreRegion != "" {
		p[icebergio.S3Region] = c.StoreRegion
	}
	if c.StoreAccessKeyID != "" {
		p[icebergio.S3AccessKeyID] = c.StoreAccessKeyID.Reveal()
		p[icebergio.S3SecretAccessKey] = c.StoreSecretAccessKey.Reveal()
	}
	return p
}

// openCatalog connects to the configured catalog. close releases what it opened (the SQL
// catalog's database pool); it is never nil.
func openCatalog(ctx context.Context, c *Config) (cat catalog.Catalog, close func(), err error) {
	props := c.storeProps()
	if c.Warehouse != "" {
		props["warehouse"] = c.Warehouse
	}
	switch c.CatalogType {
	case "rest":
		opts := []rest.Option{rest.WithAdditionalProps(props)}
		if c.Warehouse != "" {
			opts = append(opts, rest.WithWarehouseLocation(c.Warehouse))
		}
		rc, err := rest.NewCatalog(ctx, defaultCatalogName, c.URI.Reveal(), opts...)
		if err != nil {
			return nil, func() {}, fmt.Errorf("REST catalog: %w", err)
		}
		return rc, func() {}, nil
	case "sql":
		driver, dsn, dialect := sqlTarget(c.URI.Reveal())
		db, err := sql.Open(driver, dsn)
		if err != nil {
			return nil, func() {}, fmt.Errorf("SQL catalog: %w", err)
		}
		if dialect == sqlcat.SQLite {
			db.SetMaxOpenConns(1) // one writer; avoids SQLITE_BUSY between pooled connections
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, func() {}, fmt.Errorf("SQL catalog: connect: %w", err)
		}
		sc, err := sqlcat.NewCatalog(defaultCatalogName, db, dialect, props)
		if err != nil {
			db.Close()
			return nil, func() {}, fmt.Errorf("SQL catalog: %w", err)
		}
		return sc, func() { db.Close() }, nil
	}
	return nil, func() {}, fmt.Errorf("unsupported catalog_type %q", c.CatalogType)
}

// sqlTarget maps the SQL catalog uri to a database/sql driver, its DSN and the bun dialect:
// postgres:// and postgresql:// URLs go to PostgreSQL (pgx); anything else is a SQLite database file
// (an optional sqlite: or sqlite:// prefix is removed, as in pyiceberg's sqlite:///path).
func sqlTarget(uri string) (driver, dsn string, dialect sqlcat.SupportedDialect) {
	if strings.HasPrefix(uri, "postgres://") || strings.HasPrefix(uri, "postgresql://") {
		return "pgx", uri, sqlcat.Postgres
	}
	path := uri
	switch {
	case strings.HasPrefix(path, "sqlite:///"):
		path = path[len("sqlite://"):]
	case strings.HasPrefix(path, "sqlite:"):
		path = path[len("sqlite:"):]
	}
	if !strings.HasPrefix(path, "file:") {
		path = "file:" + path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return "sqlite3", path + sep + "_busy_timeout=10000&_journal_mode=WAL", sqlcat.SQLite
}
