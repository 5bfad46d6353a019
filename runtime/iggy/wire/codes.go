package wire

import "fmt"

// Frame commands (header byte 60).
const (
	CommandRequest  uint8 = 5
	CommandReply    uint8 = 8
	CommandEviction uint8 = 13
)

// Operations (request header byte 176, echoed in the reply at 208).
const (
	OpRegister             uint8 = 1
	OpNonReplicated        uint8 = 2
	OpLogout               uint8 = 3
	OpCreateStream         uint8 = 128
	OpUpdateStream         uint8 = 129
	OpDeleteStream         uint8 = 130
	OpPurgeStream          uint8 = 131
	OpCreateTopic          uint8 = 132
	OpUpdateTopic          uint8 = 133
	OpDeleteTopic          uint8 = 134
	OpPurgeTopic           uint8 = 135
	OpCreatePartitions     uint8 = 136
	OpDeletePartitions     uint8 = 137
	OpDeleteSegments       uint8 = 138
	OpCreateConsumerGroup  uint8 = 139
	OpDeleteConsumerGroup  uint8 = 140
	OpCreateUser           uint8 = 141
	OpUpdateUser           uint8 = 142
	OpDeleteUser           uint8 = 143
	OpChangePassword       uint8 = 144
	OpUpdatePermissions    uint8 = 145
	OpCreatePAT            uint8 = 146
	OpDeletePAT            uint8 = 147
	OpJoinConsumerGroup    uint8 = 148
	OpLeaveConsumerGroup   uint8 = 149
	OpSendMessages         uint8 = 160
	OpStoreConsumerOffset  uint8 = 161
	OpDeleteConsumerOffset uint8 = 162
)

// Command codes.
const (
	CodePing                 uint32 = 1
	CodeGetStats             uint32 = 10
	CodeGetClusterMetadata   uint32 = 12
	CodeDescribeOptions      uint32 = 13
	CodeGetMe                uint32 = 20
	CodeGetUser              uint32 = 31
	CodeGetUsers             uint32 = 32
	CodeCreateUser           uint32 = 33
	CodeDeleteUser           uint32 = 34
	CodeUpdateUser           uint32 = 35
	CodeUpdatePermissions    uint32 = 36
	CodeChangePassword       uint32 = 37
	CodeLegacyLoginUser      uint32 = 38
	CodeLogoutUser           uint32 = 39
	CodeLoginRegister        uint32 = 40
	CodeGetPATs              uint32 = 41
	CodeCreatePAT            uint32 = 42
	CodeDeletePAT            uint32 = 43
	CodeLegacyLoginPAT       uint32 = 44
	CodeLoginRegisterWithPAT uint32 = 45
	CodePollMessages         uint32 = 100
	CodeSendMessages         uint32 = 101
	CodeFlushUnsavedBuffer   uint32 = 102
	CodeGetConsumerOffset    uint32 = 120
	CodeStoreConsumerOffset  uint32 = 121
	CodeDeleteConsumerOffset uint32 = 122
	CodeGetStream            uint32 = 200
	CodeGetStreams           uint32 = 201
	CodeCreateStream         uint32 = 202
	CodeDeleteStream         uint32 = 203
	CodeUpdateStream         uint32 = 204
	CodePurgeStream          uint32 = 205
	CodeGetTopic             uint32 = 300
	CodeGetTopics            uint32 = 301
	CodeCreateTopic          uint32 = 302
	CodeDeleteTopic          uint32 = 303
	CodeUpdateTopic          uint32 = 304
	CodePurgeTopic           uint32 = 305
	CodeCreatePartitions     uint32 = 402
	CodeDeletePartitions     uint32 = 403
	CodeDeleteSegments       uint32 = 503
	CodeGetConsumerGroup     uint32 = 600
	CodeGetConsumerGroups    uint32 = 601
	CodeCreateConsumerGroup  uint32 = 602
	CodeDeleteConsumerGroup  uint32 = 603
	CodeJoinConsumerGroup    uint32 = 604
	CodeLeaveConsumerGroup   uint32 = 605
	CodeSyncConsumerGroup    uint32 = 606
)

// codeOps maps the codes that travel as their own operation byte.
var codeOps = map[uint32]uint8{
	CodeLogoutUser: OpLogout, CodeLoginRegister: OpRegister, CodeLoginRegisterWithPAT: OpRegister,
	CodeCreateStream: OpCreateStream, CodeUpdateStream: OpUpdateStream, CodeDeleteStream: OpDeleteStream,
	CodePurgeStream: OpPurgeStream, CodeCreateTopic: OpCreateTopic, CodeUpdateTopic: OpUpdateTopic,
	CodeDeleteTopic: OpDeleteTopic, CodePurgeTopic: OpPurgeTopic, CodeCreatePartitions: OpCreatePartitions,
	CodeDeletePartitions: OpDeletePartitions, CodeDeleteSegments: OpDeleteSegments,
	CodeCreateConsumerGroup: OpCreateConsumerGroup, CodeDeleteConsumerGroup: OpDeleteConsumerGroup,
	CodeCreateUser: OpCreateUser, CodeUpdateUser: OpUpdateUser, CodeDeleteUser: OpDeleteUser,
	CodeChangePassword: OpChangePassword, CodeUpdatePermissions: OpUpdatePermissions,
	CodeCreatePAT: OpCreatePAT, CodeDeletePAT: OpDeletePAT,
	CodeJoinConsumerGroup: OpJoinConsumerGroup, CodeLeaveConsumerGroup: OpLeaveConsumerGroup,
	CodeSendMessages: OpSendMessages, CodeStoreConsumerOffset: OpStoreConsumerOffset,
	CodeDeleteConsumerOffset: OpDeleteConsumerOffset,
}

var opCodes = func() map[uint8]uint32 {
	m := make(map[uint8]uint32, len(codeOps))
	for c, op := range codeOps {
		if op != OpRegister {
			m[op] = c
		}
	}
	return m
}()

// OperationFor returns the operation byte a request with command code travels with: its own
// operation for replicated codes, OpNonReplicated for every other code.
func OperationFor(code uint32) uint8 {
	if op, ok := codeOps[code]; ok {
		return op
	}
	return OpNonReplicated
}

// CodeForOperation returns the command code of a replicated operation (ok false for Register,
// NonReplicated, whose code is in the header, and unknown operations).
func CodeForOperation(op uint8) (uint32, bool) {
	c, ok := opCodes[op]
	return c, ok
}

// IsMetadataOp reports whether op is a metadata operation (128..149): result-framed replies, and
// the request consumes a request number.
func IsMetadataOp(op uint8) bool { return op >= 128 && op <= 149 }

// Internal operations (64..127): the real server (apache/iggy 0.9.0-edge.5) rewrites some client
// operations into these before replicating them, and its reply header then carries the internal
// operation instead of the one the client sent (CreateTopic answers with 64, CreatePartitions with
// 65, DeleteSegments with 68). Clients never send them.
const (
	OpCreateTopicWithAssignments      uint8 = 64
	OpCreatePartitionsWithAssignments uint8 = 65
	OpTruncatePartition               uint8 = 68
)

// IsInternalOp reports whether op is a server-internal operation (64..127); its replies are
// result-framed like metadata replies.
func IsInternalOp(op uint8) bool { return op >= 64 && op < 128 }

// ReplyOperationMatches reports whether a reply carrying operation got answers a request sent with
// operation sent: the same operation, or the internal operation the real server substitutes for it.
func ReplyOperationMatches(sent, got uint8) bool {
	if sent == got {
		return true
	}
	switch sent {
	case OpCreateTopic:
		return got == OpCreateTopicWithAssignments
	case OpCreatePartitions:
		return got == OpCreatePartitionsWithAssignments
	case OpDeleteSegments:
		return got == OpTruncatePartition
	}
	return false
}

// IsPartitionOp reports whether op is a partition-plane operation (160..162).
func IsPartitionOp(op uint8) bool { return op >= 160 && op <= 162 }

// IsKnownOp reports whether a client may send op.
func IsKnownOp(op uint8) bool {
	return op == OpRegister || op == OpNonReplicated || op == OpLogout || IsMetadataOp(op) || IsPartitionOp(op)
}

// IsResultFramed reports whether a successful reply to op starts with a result section (spec 1.7).
// Register replies are result-framed when their body is non-empty.
func IsResultFramed(op uint8) bool {
	return op == OpRegister || IsMetadataOp(op) || IsInternalOp(op) || op == OpStoreConsumerOffset || op == OpDeleteConsumerOffset
}

// ConsumesRequestNumber reports whether a request with op takes the next request number (metadata
// operations and Logout) rather than repeating the current one.
func ConsumesRequestNumber(op uint8) bool { return op == OpLogout || IsMetadataOp(op) }

// StampsChecksum reports whether the Rust SDK puts XXH3-64 of the body into request_checksum for op
// (Register, Logout and metadata operations); other operations send 0.
func StampsChecksum(op uint8) bool { return op == OpRegister || op == OpLogout || IsMetadataOp(op) }

// Error and status codes (spec 1.9).
const (
	StatusOK                             uint32 = 0
	ErrCodeError                         uint32 = 1
	ErrCodeInvalidCommand                uint32 = 3
	ErrCodeInvalidFormat                 uint32 = 4
	ErrCodeFeatureUnavailable            uint32 = 5
	ErrCodeInvalidIdentifier             uint32 = 6
	ErrCodeResourceNotFound              uint32 = 20
	ErrCodeStaleClient                   uint32 = 30
	ErrCodeUnauthenticated               uint32 = 40
	ErrCodeUnauthorized                  uint32 = 41
	ErrCodeInvalidCredentials            uint32 = 42
	ErrCodeInvalidUsername               uint32 = 43
	ErrCodeInvalidPassword               uint32 = 44
	ErrCodeUserAlreadyExists             uint32 = 46
	ErrCodeUserInactive                  uint32 = 47
	ErrCodeInvalidPAT                    uint32 = 53
	ErrCodeTransientNotCommitted         uint32 = 57
	ErrCodeTransientNotAccepted          uint32 = 58
	ErrCodeStreamIDNotFound              uint32 = 1009
	ErrCodeStreamNameAlreadyExists       uint32 = 1012
	ErrCodeTooManyStreams                uint32 = 1020
	ErrCodeTopicIDNotFound               uint32 = 2010
	ErrCodeTopicNameAlreadyExists        uint32 = 2013
	ErrCodeTooManyPartitions             uint32 = 2015
	ErrCodeInvalidPartitionsCount        uint32 = 2019
	ErrCodePartitionNotFound             uint32 = 3007
	ErrCodeInvalidMessageChecksum        uint32 = 4027
	ErrCodeInvalidMessageTimestampDelta  uint32 = 4038
	ErrCodeInvalidBatchChecksum          uint32 = 4039
	ErrCodeUnsupportedOptionKey          uint32 = 4041
	ErrCodeInvalidOptionValue            uint32 = 4042
	ErrCodeInvalidOffset                 uint32 = 4100
	ErrCodeConsumerGroupIDNotFound       uint32 = 5000
	ErrCodeConsumerGroupNameExists       uint32 = 5004
	ErrCodeConsumerGroupMemberNotFound   uint32 = 5006
	ErrCodeConsumerGroupPartitionUnowned uint32 = 5009
	ErrCodeIncompatibleProtocol          uint32 = 14003
	// Codes this project uses for personal access tokens (not listed in the spec; taken from the
	// Iggy error table).
	ErrCodePATNameAlreadyExists uint32 = 51
	ErrCodePATNotFound          uint32 = 52
)

// ErrorName returns the Iggy name of an error code ("" if unknown).
func ErrorName(code uint32) string {
	switch code {
	case ErrCodeError:
		return "Error"
	case ErrCodeInvalidCommand:
		return "InvalidCommand"
	case ErrCodeInvalidFormat:
		return "InvalidFormat"
	case ErrCodeFeatureUnavailable:
		return "FeatureUnavailable"
	case ErrCodeInvalidIdentifier:
		return "InvalidIdentifier"
	case ErrCodeResourceNotFound:
		return "ResourceNotFound"
	case ErrCodeStaleClient:
		return "StaleClient"
	case ErrCodeUnauthenticated:
		return "Unauthenticated"
	case ErrCodeUnauthorized:
		return "Unauthorized"
	case ErrCodeInvalidCredentials:
		return "InvalidCredentials"
	case ErrCodeInvalidUsername:
		return "InvalidUsername"
	case ErrCodeInvalidPassword:
		return "InvalidPassword"
	case ErrCodeUserAlreadyExists:
		return "UserAlreadyExists"
	case ErrCodeUserInactive:
		return "UserInactive"
	case ErrCodePATNameAlreadyExists:
		return "PersonalAccessTokenAlreadyExists"
	case ErrCodePATNotFound:
		return "PersonalAccessTokenNotFound"
	case ErrCodeInvalidPAT:
		return "InvalidPersonalAccessToken"
	case ErrCodeTransientNotCommitted:
		return "TransientNotCommitted"
	case ErrCodeTransientNotAccepted:
		return "TransientNotAccepted"
	case ErrCodeStreamIDNotFound:
		return "StreamIdNotFound"
	case ErrCodeStreamNameAlreadyExists:
		return "StreamNameAlreadyExists"
	case ErrCodeTooManyStreams:
		return "TooManyStreams"
	case ErrCodeTopicIDNotFound:
		return "TopicIdNotFound"
	case ErrCodeTopicNameAlreadyExists:
		return "TopicNameAlreadyExists"
	case ErrCodeTooManyPartitions:
		return "TooManyPartitions"
	case ErrCodeInvalidPartitionsCount:
		return "InvalidPartitionsCount"
	case ErrCodePartitionNotFound:
		return "PartitionNotFound"
	case ErrCodeInvalidMessageChecksum:
		return "InvalidMessageChecksum"
	case ErrCodeInvalidMessageTimestampDelta:
		return "InvalidMessageTimestampDelta"
	case ErrCodeInvalidBatchChecksum:
		return "InvalidBatchChecksum"
	case ErrCodeUnsupportedOptionKey:
		return "UnsupportedOptionKey"
	case ErrCodeInvalidOptionValue:
		return "InvalidOptionValue"
	case ErrCodeInvalidOffset:
		return "InvalidOffset"
	case ErrCodeConsumerGroupIDNotFound:
		return "ConsumerGroupIdNotFound"
	case ErrCodeConsumerGroupNameExists:
		return "ConsumerGroupNameAlreadyExists"
	case ErrCodeConsumerGroupMemberNotFound:
		return "ConsumerGroupMemberNotFound"
	case ErrCodeConsumerGroupPartitionUnowned:
		return "ConsumerGroupPartitionNotOwned"
	case ErrCodeIncompatibleProtocol:
		return "IncompatibleProtocolVersion"
	}
	return ""
}

// Eviction reasons (eviction header byte 255).
const (
	EvictNoSession              uint8 = 1
	EvictClientReleaseTooLow    uint8 = 2
	EvictClientReleaseTooHigh   uint8 = 3
	EvictInvalidRequestOp       uint8 = 4
	EvictInvalidRequestBody     uint8 = 5
	EvictInvalidRequestBodySize uint8 = 6
	EvictSessionTooLow          uint8 = 7
	EvictSessionReleaseMismatch uint8 = 8
	EvictInvalidCredentials     uint8 = 9
	EvictInvalidToken           uint8 = 10
	EvictUserInactive           uint8 = 11
	EvictSessionError           uint8 = 12
	EvictStaleClient            uint8 = 13
	EvictIncompatibleProtocol   uint8 = 14
	EvictMalformedLogin         uint8 = 15
)

// EvictionErrorCode maps an eviction reason to the error code the official SDKs report.
func EvictionErrorCode(reason uint8) uint32 {
	switch reason {
	case EvictInvalidCredentials:
		return ErrCodeInvalidCredentials
	case EvictInvalidToken:
		return ErrCodeInvalidPAT
	case EvictStaleClient:
		return ErrCodeStaleClient
	case EvictMalformedLogin:
		return ErrCodeInvalidFormat
	case EvictIncompatibleProtocol:
		return ErrCodeIncompatibleProtocol
	case EvictNoSession, EvictSessionTooLow, EvictSessionReleaseMismatch, EvictUserInactive, EvictSessionError:
		return ErrCodeUnauthenticated
	}
	return ErrCodeInvalidCommand
}

// EvictionReasonName names an eviction reason ("" for an unknown one).
func EvictionReasonName(reason uint8) string {
	switch reason {
	case EvictNoSession:
		return "no session"
	case EvictClientReleaseTooLow:
		return "client release too low"
	case EvictClientReleaseTooHigh:
		return "client release too high"
	case EvictInvalidRequestOp:
		return "invalid request operation"
	case EvictInvalidRequestBody:
		return "invalid request body"
	case EvictInvalidRequestBodySize:
		return "invalid request body size"
	case EvictSessionTooLow:
		return "session too low"
	case EvictSessionReleaseMismatch:
		return "session release mismatch"
	case EvictInvalidCredentials:
		return "invalid credentials"
	case EvictInvalidToken:
		return "invalid token"
	case EvictUserInactive:
		return "user inactive"
	case EvictSessionError:
		return "session error"
	case EvictStaleClient:
		return "stale client"
	case EvictIncompatibleProtocol:
		return "incompatible protocol version"
	case EvictMalformedLogin:
		return "malformed login"
	}
	return ""
}

// FormatVersion renders a packed protocol version as major.minor.patch.
func FormatVersion(v uint32) string {
	major, minor, patch := UnpackVersion(v)
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}

// Protocol versions. The packed form is major<<20 | minor<<10 | patch.
const (
	ProtocolVersion = 0<<20 | 11<<10 | 0 // 0.11.0 = 11264
	// PartitionResync is the partition_id of an empty group poll for a partition the member no
	// longer owns: the client must sync its assignment again.
	PartitionResync uint32 = 0xFFFFFFFF
)

// PackVersion packs major.minor.patch.
func PackVersion(major, minor, patch uint32) uint32 { return major<<20 | minor<<10 | patch }

// UnpackVersion splits a packed protocol version.
func UnpackVersion(v uint32) (major, minor, patch uint32) {
	return v >> 20, (v >> 10) & 0x3ff, v & 0x3ff
}
