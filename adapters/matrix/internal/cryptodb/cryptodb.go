//go:build goolm || libolm

// Package cryptodb opens mautrix crypto stores on a pure-Go SQLite, for
// the Matrix adapter and its test clients. Only adapters/matrix imports it.
package cryptodb

import (
	"fmt"
	"net/url"

	"go.mau.fi/util/dbutil"
	_ "modernc.org/sqlite" // pure-Go SQLite, registered as "sqlite": no cgo
)

// Open opens the crypto store on modernc.org/sqlite, a pure-Go
// SQLite, instead of the cgo driver mautrix's cryptohelper opens by
// default (mattn/go-sqlite3 as "sqlite3-fk-wal"): the E2EE build then needs
// no C compiler. The pragmas are the ones "sqlite3-fk-wal" sets: foreign
// keys on, WAL journal, and immediate write transactions so concurrent
// writers wait instead of failing with SQLITE_BUSY.
func Open(path string) (*dbutil.Database, error) {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Set("_txlock", "immediate")
	db, err := dbutil.NewWithDialect("file:"+path+"?"+q.Encode(), "sqlite")
	if err != nil {
		return nil, fmt.Errorf("open crypto store %s: %w", path, err)
	}
	// One connection: SQLite allows one writer, and the crypto machine
	// writes from several goroutines.
	db.RawDB.SetMaxOpenConns(1)
	return db, nil
}
