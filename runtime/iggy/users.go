package iggy

import (
	"context"
	"fmt"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// User management: the calls tests and tools need to run the runtime as a user with limited
// permissions. Layouts in wire/users.go.

// Permission and user types.
type (
	Permissions       = wire.Permissions
	GlobalPermissions = wire.GlobalPermissions
	StreamPermissions = wire.StreamPermissions
	TopicPermissions  = wire.TopicPermissions
	UserDetails       = wire.UserDetails
)

func init() {
	for code, name := range map[uint32]string{
		wire.CodeGetUser: "GetUser", wire.CodeGetUsers: "GetUsers", wire.CodeCreateUser: "CreateUser",
		wire.CodeDeleteUser: "DeleteUser", wire.CodeUpdateUser: "UpdateUser", wire.CodeUpdatePermissions: "UpdatePermissions",
		wire.CodeChangePassword: "ChangePassword",
	} {
		commandNames[code] = name
	}
}

// CreateUser creates an active user with the given permissions (nil: none). It needs the
// manage_users permission; ErrAlreadyExists when the name is taken.
func (c *Client) CreateUser(ctx context.Context, username, password string, perms *Permissions) (*UserDetails, error) {
	if err := wire.ValidName("username", username); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if len(password) == 0 || len(password) > 255 {
		return nil, fmt.Errorf("%w: CreateUser: password must be 1..255 bytes", ErrInvalidArgument)
	}
	var d UserDetails
	err := c.call(ctx, wire.CodeCreateUser, func(b []byte) ([]byte, error) {
		return (&wire.CreateUserRequest{Username: username, Password: password, Status: wire.UserActive, Permissions: perms}).Append(b), nil
	}, func(p []byte) error { return d.Decode(p) })
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// UpdatePermissions replaces the permissions of a user (nil removes them all). It needs the
// manage_users permission; the root user's permissions cannot be changed.
func (c *Client) UpdatePermissions(ctx context.Context, user Identifier, perms *Permissions) error {
	if err := validID("user", user); err != nil {
		return err
	}
	return c.call(ctx, wire.CodeUpdatePermissions, func(b []byte) ([]byte, error) {
		return (&wire.UpdatePermissionsRequest{User: user, Permissions: perms}).Append(b), nil
	}, nil)
}

// DeleteUser deletes a user and its personal access tokens. It needs the manage_users permission.
func (c *Client) DeleteUser(ctx context.Context, user Identifier) error {
	if err := validID("user", user); err != nil {
		return err
	}
	return c.call(ctx, wire.CodeDeleteUser, func(b []byte) ([]byte, error) {
		return (&wire.UserRef{User: user}).Append(b), nil
	}, nil)
}
