package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/runtime/iggy/wire"
	"github.com/iggy-go/connectors/runtime/pipeline"
)

// An Unauthorized answer names the permission the refused command needs and is retryable; other
// server errors stay as they were.
func TestWrapDenied(t *testing.T) {
	user := iggyUser(config.IggyConfig{Username: "conn"})
	for _, c := range []struct{ command, want string }{
		{"SendMessages", "send_messages"},
		{"PollMessages", "poll_messages"},
		{"StoreConsumerOffset", "poll_messages"},
		{"JoinConsumerGroup", "read_topic"},
		{"GetTopic", "read_topic"},
		{"GetStream", "read_stream"},
		{"CreateStream", "manage_streams"},
		{"CreateTopic", "manage_topics"},
	} {
		err := wrapDenied(&iggy.ServerError{Code: wire.ErrCodeUnauthorized, Command: c.command}, user, "s", "t")
		msg := err.Error()
		if !strings.Contains(msg, `Iggy user "conn" lacks the `+c.want+` permission on stream "s" topic "t"`) ||
			!strings.Contains(msg, "code 41") || !pipeline.IsRetryable(err) || !errors.Is(err, iggy.ErrUnauthorized) {
			t.Errorf("%s: %q (retryable %v)", c.command, msg, pipeline.IsRetryable(err))
		}
	}
	other := wrapDenied(&iggy.ServerError{Code: wire.ErrCodeTopicIDNotFound, Command: "SendMessages"}, user, "s", "t")
	if strings.Contains(other.Error(), "permission") || pipeline.IsRetryable(other) {
		t.Errorf("not found became %q (retryable %v)", other, pipeline.IsRetryable(other))
	}
	if got := iggyUser(config.IggyConfig{Token: "x"}); !strings.Contains(got, "personal access token") {
		t.Errorf("token user: %q", got)
	}
}
