package harness

import (
	"context"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
)

// CreateUser creates an Iggy user with the given permissions (nil: none) through c (which must
// hold manage_users, as root does) and deletes it when the test ends.
func CreateUser(tb testing.TB, c *iggy.Client, name, password string, perms *iggy.Permissions) *iggy.UserDetails {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := c.CreateUser(ctx, name, password, perms)
	if err != nil {
		tb.Fatalf("create Iggy user %q: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.DeleteUser(ctx, iggy.NamedID(name))
	})
	return u
}

// SetPermissions replaces the permissions of user name (nil removes them all).
func SetPermissions(tb testing.TB, c *iggy.Client, name string, perms *iggy.Permissions) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.UpdatePermissions(ctx, iggy.NamedID(name), perms); err != nil {
		tb.Fatalf("update permissions of Iggy user %q: %v", name, err)
	}
}
