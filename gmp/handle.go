package gmp

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ghost-network/gpmd/index"
)

// handle answers one request; it reports whether the connection goes on.
func (c *conn) handle(msg []byte) bool {
	env, rerr := parseEnvelope(msg)
	name := "invalid"
	if rerr == nil {
		name = messageName(env.typ, env.code)
	}
	defer func(start time.Time) { c.s.cfg.Observer.Request(name, time.Since(start)) }(time.Now())
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

// fieldError describes a body field of the wrong JSON type.
func fieldError(name, want string) *requestError {
	return badRequest("body field %q must be %s", name, want)
}

func (c *conn) hello(env envelope) bool {
	var versions []byte
	var rerr *requestError
	walkObject(env.body, func(key, val []byte) bool {
		switch {
		case keyIs(key, "versions"):
			versions = val
		case keyIs(key, "client"):
			if _, ok := decodeString(val); !ok && !isNull(val) {
				rerr = fieldError("client", "a string")
			}
		}
		return rerr == nil
	})
	speaks := false
	if rerr == nil && versions != nil && !isNull(versions) {
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
	var (
		name, id     string
		port         int64
		discoverable = true
		rerr         *requestError
	)
	walkObject(env.body, func(key, val []byte) bool {
		var ok bool
		switch {
		case isNull(val):
			return true // null is as good as absent
		case keyIs(key, "name"):
			if name, ok = decodeString(val); !ok {
				rerr = fieldError("name", "a string")
			}
		case keyIs(key, "id"):
			if id, ok = decodeString(val); !ok {
				rerr = fieldError("id", "a string")
			}
		case keyIs(key, "port"):
			if port, ok = decodeInt(val); !ok {
				rerr = fieldError("port", "an integer")
			}
		case keyIs(key, "discoverable"):
			if discoverable, ok = decodeBool(val); !ok {
				rerr = fieldError("discoverable", "true or false")
			}
		}
		return rerr == nil
	})
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

// stringField reads one string field of a body: required or optional,
// null counting as absent.
func stringField(body []byte, field string, required bool) (string, *requestError) {
	var (
		s     string
		found bool
		rerr  *requestError
	)
	walkObject(body, func(key, val []byte) bool {
		if !keyIs(key, field) {
			return true
		}
		if isNull(val) {
			found, s = false, ""
			return true
		}
		var ok bool
		if s, ok = decodeString(val); !ok {
			rerr = fieldError(field, "a string")
			return false
		}
		found = true
		return true
	})
	if rerr == nil && required && !found {
		rerr = badRequest("body field %q is required", field)
	}
	return s, rerr
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
	switch {
	case errors.Is(err, index.ErrNotFound):
		mods = nil // LIST has no not-found reply: no such name lists nothing
	case errors.Is(err, index.ErrInvalid):
		return c.replyError(env.id, ErrCodeBadRequest, err.Error())
	case err != nil:
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
	switch {
	case errors.Is(err, index.ErrNotFound):
		what := name
		if version != "" {
			what += "@" + version
		}
		return c.reply(TypeWasm, CodeModuleNotFound, env.id, func(b []byte) []byte {
			return appendErrorBody(b, ErrCodeNotFound, "no module "+what)
		})
	case errors.Is(err, index.ErrInvalid):
		return c.replyError(env.id, ErrCodeBadRequest, err.Error())
	case err != nil:
		c.s.log.Error("gmp: opening a module", "name", name, "version", version, "err", err)
		return c.replyError(env.id, ErrCodeInternal, "reading module "+name+" failed")
	}
	return c.sendModule(env.id, rec, rc)
}
