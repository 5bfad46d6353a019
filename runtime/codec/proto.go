package codec

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// loadProto reads the descriptor set named by opts and finds the message type.
func loadProto(opts Options) (protoreflect.MessageDescriptor, *dynamicpb.Types, error) {
	if opts.ProtoDescriptorSet == "" {
		return nil, nil, fmt.Errorf("proto_message_type %q needs proto_descriptor_set", opts.ProtoMessageType)
	}
	if opts.ProtoMessageType == "" {
		return nil, nil, fmt.Errorf("proto_descriptor_set %q needs proto_message_type (the full name of the message)", opts.ProtoDescriptorSet)
	}
	raw, err := readOptionFile("proto_descriptor_set", opts.ProtoDescriptorSet)
	if err != nil {
		return nil, nil, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, nil, fmt.Errorf("proto_descriptor_set %q: not a binary FileDescriptorSet: %w", opts.ProtoDescriptorSet, err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, nil, fmt.Errorf("proto_descriptor_set %q: %w (write it with protoc --include_imports)", opts.ProtoDescriptorSet, err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(opts.ProtoMessageType))
	if err != nil {
		return nil, nil, fmt.Errorf("proto_message_type %q: not found in %q", opts.ProtoMessageType, opts.ProtoDescriptorSet)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, nil, fmt.Errorf("proto_message_type %q: is not a message in %q", opts.ProtoMessageType, opts.ProtoDescriptorSet)
	}
	return md, dynamicpb.NewTypes(files), nil
}

// resolver finds message types first in the descriptor set, then among the well-known types linked
// into the binary (for google.protobuf.Any values and the like).
type resolver struct{ types *dynamicpb.Types }

func (r resolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if t, err := r.types.FindExtensionByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r resolver) FindExtensionByNumber(m protoreflect.FullName, f protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if t, err := r.types.FindExtensionByNumber(m, f); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, f)
}

func (r resolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if t, err := r.types.FindMessageByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if t, err := r.types.FindMessageByURL(url); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

// protoDecoder converts protobuf binary of one message type to its canonical JSON mapping.
//
// The JSON uses the field names of the .proto file (not lowerCamelCase), omits fields at their
// default value, renders enums by name, 64-bit integers as strings and bytes as base64 — the
// proto3 JSON mapping. protojson's output is made compact (it is deliberately unstable otherwise).
type protoDecoder struct {
	base
	md    protoreflect.MessageDescriptor
	types *dynamicpb.Types
}

func (*protoDecoder) Kind() Kind { return KindJSON }

func (d *protoDecoder) Decode(b []byte) (Payload, error) {
	msg := dynamicpb.NewMessage(d.md)
	r := resolver{d.types}
	if err := (proto.UnmarshalOptions{Resolver: r}).Unmarshal(b, msg); err != nil {
		return Payload{}, d.errf("decode", -1, "not a valid %s: %w", d.md.FullName(), err)
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true, Resolver: r}.Marshal(msg)
	if err != nil {
		return Payload{}, d.errf("decode", -1, "%s to JSON: %w", d.md.FullName(), err)
	}
	out, err := Compact(js)
	if err != nil {
		return Payload{}, d.errf("decode", -1, "%s to JSON: %w", d.md.FullName(), err)
	}
	return jsonPayload(out, true), nil
}

// protoEncoder converts JSON to protobuf binary of one message type (protojson rules: original field
// names and lowerCamelCase names are both accepted; an unknown field is an error).
type protoEncoder struct {
	base
	md    protoreflect.MessageDescriptor
	types *dynamicpb.Types
}

func (e *protoEncoder) Encode(p *Payload) ([]byte, error) {
	r := resolver{e.types}
	msg := dynamicpb.NewMessage(e.md)
	switch p.kind {
	case KindProto, KindRaw:
		if err := (proto.UnmarshalOptions{Resolver: r}).Unmarshal(p.data, msg); err != nil {
			return nil, e.errf("encode", -1, "%s payload is not a valid %s: %w", p.kind, e.md.FullName(), err)
		}
		return p.data, nil
	case KindJSON, KindText:
		js := p.Bytes()
		if p.kind == KindText {
			if _, err := validateJSON(js); err != nil {
				return nil, e.errf("encode", errPos(err), "text payload is not JSON: %w", err)
			}
		}
		if err := (protojson.UnmarshalOptions{Resolver: r}).Unmarshal(js, msg); err != nil {
			return nil, e.errf("encode", -1, "JSON to %s: %w", e.md.FullName(), err)
		}
		out, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		if err != nil {
			return nil, e.errf("encode", -1, "%s: %w", e.md.FullName(), err)
		}
		return out, nil
	}
	return nil, e.errf("encode", -1, "a %s payload cannot be encoded as %s", p.kind, e.md.FullName())
}
