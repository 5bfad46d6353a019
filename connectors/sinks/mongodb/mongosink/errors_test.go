package mongosink

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestIsTransient(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"deadline", fmt.Errorf("insert: %w", context.DeadlineExceeded), true},
		{"shutdown in progress", mongo.CommandError{Code: 91, Name: "ShutdownInProgress"}, true},
		{"not primary", mongo.CommandError{Code: 10107}, true},
		{"retryable label", mongo.CommandError{Code: 2, Labels: []string{"RetryableWriteError"}}, true},
		{"network label", mongo.CommandError{Labels: []string{"NetworkError"}}, true},
		{"FerretDB backend error", mongo.CommandError{Code: 1, Name: "InternalError"}, true},
		{"unknown server code", mongo.CommandError{Code: 424242}, true},
		{"authentication", mongo.CommandError{Code: 18, Name: "AuthenticationFailed"}, false},
		{"unauthorized", mongo.CommandError{Code: 13, Name: "Unauthorized"}, false},
		{"invalid namespace", mongo.CommandError{Code: 73}, false},
		{"write concern error", mongo.WriteException{WriteConcernError: &mongo.WriteConcernError{Code: 64, Message: "waiting for replication timed out"}}, true},
		{"transient write errors", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 91}, {Code: 189}}}, true},
		{"validation write error", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 121}}}, false},
		{"driver error", errors.New("cannot marshal"), false},
	}
	for _, c := range cases {
		if got := isTransient(c.err); got != c.want {
			t.Errorf("%s: isTransient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestWriteErrorCodes(t *testing.T) {
	for code, want := range map[int][2]bool{11000: {true, false}, 11001: {true, false}, 2: {false, false}, 121: {false, false}, 91: {false, true}, 11600: {false, true}} {
		if isDuplicateKey(code) != want[0] || isTransientCode(code) != want[1] {
			t.Errorf("code %d: duplicate %v transient %v, want %v", code, isDuplicateKey(code), isTransientCode(code), want)
		}
	}
}

func TestIsDataError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{mongo.CommandError{Code: 1, Name: "InternalError", Message: `[msg_insert.go:168] ERROR: unsupported Unicode escape sequence (SQLSTATE 22P05)`}, true},
		{mongo.CommandError{Code: 1, Message: `ERROR: duplicate key value violates unique constraint (SQLSTATE 23505)`}, true},
		{mongo.CommandError{Code: 1, Message: `failed to connect to host=127.0.0.1: dial error (SQLSTATE 08006)`}, false},
		{mongo.CommandError{Code: 1, Message: `failed to connect: connection refused`}, false},
		{mongo.CommandError{Code: 10334, Message: "BSONObj size: 17825792 is invalid"}, true},
		{mongo.CommandError{Code: 2, Message: "bad value"}, false},
		{errors.New("(SQLSTATE 22P05)"), false},
	} {
		if got := isDataError(c.err); got != c.want {
			t.Errorf("isDataError(%v) = %v, want %v", c.err, got, c.want)
		}
		if c.want && isTransient(c.err) {
			t.Errorf("isTransient(%v) = true for a data error", c.err)
		}
	}
}
