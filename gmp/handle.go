package gmp

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
)

// handle answers one request; it reports whether the connection goes on.
func (c *conn) handle(msg []byte) bool {
	env, rerr := parseEnvelope(msg)
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	switch env.typ {
	case TypeSession:
		switch env.code {
		case CodeHello:
			return c.hello(env)
		case CodePing:
			return c.reply(TypeSession, CodePong, env.id, emptyBody)
		}
	case TypeNode:
		switch env.code {
		case CodeRegister:
			return c.register(env)
		case CodeDiscover:
			names := c.s.reg.discoverable()
			return c.reply(TypeNode, CodeNodes, env.id, func(b []byte) []byte { return appendNodesBody(b, names) })
		case CodeConnect:
			return c.connect(env)
		case CodeUnregister:
			c.unregister()
			return c.reply(TypeNode, CodeUnregistered, env.id, emptyBody)
		}
	case TypeWasm:
		switch env.code {
		case CodeModuleRequest:
			return c.moduleRequest(env)
		case CodeList:
			return c.list(env)
		}
	}
	// Replies (WELCOME, NODES, …) sent to GPMD are messages it does not
	// take, as much as an unknown type or code is.
	return c.replyError(env.id, ErrCodeUnknownMessage,
		fmt.Sprintf("GPMD takes no message of type %d code %d", env.typ, env.code))
}

// errorCodeOf maps an error of the module store to its GMP error code, the
// one place the classes of errdefs meet GMP: "" for nil, not_found for
// ErrNotFound (each request turns it into its own not-found reply),
// bad_request for ErrInvalid, internal for anything else (logged by the
// caller; a peer learns no more than that).
func errorCodeOf(err error) string {
	switch {
	case err == nil:
		return ""
	// index's classes are separate values until the storage side of issue
	// 8 makes them aliases of errdefs'; then these two tests are one each.
	case errors.Is(err, errdefs.ErrNotFound), errors.Is(err, index.ErrNotFound):
		return ErrCodeNotFound
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, index.ErrInvalid):
		return ErrCodeBadRequest
	}
	return ErrCodeInternal
}

// fieldError describes a body field of the wrong JSON type.
func fieldError(name, want string) *requestError {
	return badRequest("body field %q must be %s", name, want)
}

func (c *conn) hello(env envelope) bool {
	var m [2][]byte
	lastMembers(env.body, helloKeys[:], m[:])
	client, versions := m[0], m[1]
	var rerr *requestError
	if _, ok := decodeString(client); client != nil && !ok {
		rerr = fieldError("client", "a string")
	}
	speaks := false
	if rerr == nil && versions != nil {
		if versions[0] != '[' {
			rerr = fieldError("versions", "an array of integers")
		}
		walkArray(versions, func(v []byte) bool {
			n, ok := decodeInt(v)
			if !ok {
				rerr = fieldError("versions", "an array of integers")
				return false
			}
			speaks = speaks || n == ProtocolVersion
			return true
		})
	}
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	if !speaks {
		// A HELLO without versions offers none that GPMD speaks.
		return c.replyError(env.id, ErrCodeUnsupportedVersion, "GPMD speaks GMP version 1 only")
	}
	w := Welcome{Server: c.s.cfg.ServerName, Version: ProtocolVersion, MaxMessage: c.s.cfg.MaxMessage}
	return c.reply(TypeSession, CodeWelcome, env.id, func(b []byte) []byte { return appendWelcomeBody(b, w) })
}

func (c *conn) register(env envelope) bool {
	deny := func(code, msg string) bool {
		return c.reply(TypeNode, CodeRegisterDenied, env.id, func(b []byte) []byte {
			return appendErrorBody(b, code, msg)
		})
	}
	if reg := c.node.Load(); reg != nil {
		return deny(ErrCodeAlreadyRegistered, "this connection already registered node "+reg.info.Name)
	}
	var m [4][]byte
	lastMembers(env.body, registerKeys[:], m[:])
	var (
		name, id     string
		port         int64
		discoverable = true
		ok           = true
		rerr         *requestError
	)
	if m[0] != nil {
		if name, ok = decodeString(m[0]); !ok {
			rerr = fieldError("name", "a string")
		}
	}
	if m[1] != nil && rerr == nil {
		if id, ok = decodeString(m[1]); !ok {
			rerr = fieldError("id", "a string")
		}
	}
	if m[2] != nil && rerr == nil {
		if port, ok = decodeInt(m[2]); !ok {
			rerr = fieldError("port", "an integer")
		}
	}
	if m[3] != nil && rerr == nil {
		if discoverable, ok = decodeBool(m[3]); !ok {
			rerr = fieldError("discoverable", "true or false")
		}
	}
	switch {
	case rerr != nil:
		return deny(ErrCodeBadRequest, rerr.msg)
	case !validNodeName(name):
		return deny(ErrCodeBadRequest, fmt.Sprintf("node name %q: 1-64 characters of A-Z a-z 0-9 . _ -, beginning with a letter or digit", name))
	case !validNodeID(id):
		return deny(ErrCodeBadRequest, "node id: 1-128 printable ASCII characters")
	case !validPort(port):
		return deny(ErrCodeBadRequest, "port "+strconv.FormatInt(port, 10)+": a port is 1-65535")
	}
	info := NodeInfo{Name: name, ID: id, Address: c.remote, Port: int(port), Discoverable: discoverable, Since: time.Now()}
	reg, ok := c.s.reg.register(info, c)
	if !ok {
		return deny(ErrCodeNameTaken, "a live node is already called "+name)
	}
	c.node.Store(reg)
	c.nodeName = name
	n := Node{Name: name, ID: id, Address: c.remote, Port: int(port)}
	return c.reply(TypeNode, CodeRegistered, env.id, func(b []byte) []byte { return appendNodeBody(b, n) })
}

// Body members each request reads (see lastMembers for duplicates and null).
var (
	helloKeys    = [2]string{"client", "versions"}
	registerKeys = [4]string{"name", "id", "port", "discoverable"}
)

// stringField reads one string field of a body: required or optional. Of
// duplicate keys the last counts, and null is absent (lastMembers).
func stringField(body []byte, field string, required bool) (string, *requestError) {
	var m [1][]byte
	lastMembers(body, []string{field}, m[:])
	if m[0] == nil {
		if required {
			return "", badRequest("body field %q is required", field)
		}
		return "", nil
	}
	s, ok := decodeString(m[0])
	if !ok {
		return "", fieldError(field, "a string")
	}
	return s, nil
}

func (c *conn) connect(env envelope) bool {
	name, rerr := stringField(env.body, "name", true)
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	info, ok := c.s.reg.lookup(name)
	if !ok {
		return c.reply(TypeNode, CodeNotFound, env.id, func(b []byte) []byte {
			return appendErrorBody(b, ErrCodeNotFound, "no live node named "+name)
		})
	}
	n := Node{Name: info.Name, ID: info.ID, Address: info.Address, Port: info.Port}
	return c.reply(TypeNode, CodeNode, env.id, func(b []byte) []byte { return appendNodeBody(b, n) })
}

func (c *conn) list(env envelope) bool {
	name, rerr := stringField(env.body, "name", false)
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	if c.s.cfg.Modules == nil {
		return c.replyError(env.id, ErrCodeInternal, "GPMD has no module repository")
	}
	mods, err := c.s.cfg.Modules.List(c.s.ctx, name)
	switch errorCodeOf(err) {
	case "":
	case ErrCodeNotFound:
		mods = nil // LIST has no not-found reply: no such name lists nothing
	case ErrCodeBadRequest:
		return c.replyError(env.id, ErrCodeBadRequest, err.Error())
	default:
		c.s.log.Error("gmp: listing modules", "name", name, "err", err)
		return c.replyError(env.id, ErrCodeInternal, "listing modules failed")
	}
	entries := make([]ModuleEntry, len(mods))
	for i, m := range mods {
		entries[i] = ModuleEntry{Name: m.Name, Versions: make([]ModuleVersion, len(m.Versions))}
		for j, v := range m.Versions {
			entries[i].Versions[j] = ModuleVersion{Version: v.Version, Hash: v.Digest.String(), Size: v.Size}
		}
	}
	return c.reply(TypeWasm, CodeModules, env.id, func(b []byte) []byte { return appendModulesBody(b, entries) })
}

func (c *conn) moduleRequest(env envelope) bool {
	name, rerr := stringField(env.body, "name", true)
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	version, rerr := stringField(env.body, "version", false)
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	if c.s.cfg.Modules == nil {
		return c.replyError(env.id, ErrCodeInternal, "GPMD has no module repository")
	}
	rec, rc, err := c.s.cfg.Modules.Get(c.s.ctx, name, version)
	switch errorCodeOf(err) {
	case "":
	case ErrCodeNotFound:
		what := name
		if version != "" {
			what += "@" + version
		}
		return c.reply(TypeWasm, CodeModuleNotFound, env.id, func(b []byte) []byte {
			return appendErrorBody(b, ErrCodeNotFound, "no module "+what)
		})
	case ErrCodeBadRequest:
		return c.replyError(env.id, ErrCodeBadRequest, err.Error())
	default:
		c.s.log.Error("gmp: opening a module", "name", name, "version", version, "err", err)
		return c.replyError(env.id, ErrCodeInternal, "reading module "+name+" failed")
	}
	return c.sendModule(env.id, rec, rc)
}
